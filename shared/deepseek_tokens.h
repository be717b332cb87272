/* DeepSeek-V3.1 special tokens, byte-exact (openai-api.md §9): `｜` is
 * U+FF5C and `▁` is U+2581, never ASCII. Literals are concatenated because
 * C hex escapes are greedy ("\x9Cbegin" would swallow the "b"). Shared by
 * the prompt renderer and the output (tool-call) parser. */
#ifndef RP_DEEPSEEK_TOKENS_H
#define RP_DEEPSEEK_TOKENS_H

#define DS_FW "\xEF\xBD\x9C" /* ｜ U+FF5C FULLWIDTH VERTICAL LINE */
#define DS_LB "\xE2\x96\x81" /* ▁ U+2581 LOWER ONE EIGHTH BLOCK */

#define DS_BOS "<" DS_FW "begin" DS_LB "of" DS_LB "sentence" DS_FW ">" /* <｜begin▁of▁sentence｜> */
#define DS_EOS "<" DS_FW "end" DS_LB "of" DS_LB "sentence" DS_FW ">"   /* <｜end▁of▁sentence｜> */
#define DS_USER "<" DS_FW "User" DS_FW ">"                              /* <｜User｜> */
#define DS_ASST "<" DS_FW "Assistant" DS_FW ">"                         /* <｜Assistant｜> */
#define DS_TCS_B "<" DS_FW "tool" DS_LB "calls" DS_LB "begin" DS_FW ">" /* <｜tool▁calls▁begin｜> */
#define DS_TCS_E "<" DS_FW "tool" DS_LB "calls" DS_LB "end" DS_FW ">"   /* <｜tool▁calls▁end｜> */
#define DS_TC_B "<" DS_FW "tool" DS_LB "call" DS_LB "begin" DS_FW ">"   /* <｜tool▁call▁begin｜> */
#define DS_TC_E "<" DS_FW "tool" DS_LB "call" DS_LB "end" DS_FW ">"     /* <｜tool▁call▁end｜> */
#define DS_SEP "<" DS_FW "tool" DS_LB "sep" DS_FW ">"                   /* <｜tool▁sep｜> */
#define DS_TO_B "<" DS_FW "tool" DS_LB "output" DS_LB "begin" DS_FW ">" /* <｜tool▁output▁begin｜> */
#define DS_TO_E "<" DS_FW "tool" DS_LB "output" DS_LB "end" DS_FW ">"   /* <｜tool▁output▁end｜> */

/* Plain ASCII reasoning markers. */
#define DS_THINK_B "<think>"
#define DS_THINK_E "</think>"

#endif
