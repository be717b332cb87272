/* Anthropic's Messages encoder (see encoder.h): the message object and
 * message_start .. message_stop events; errors in Anthropic's shape. */
#ifndef RP_MESSAGES_ENCODER_H
#define RP_MESSAGES_ENCODER_H

#include "encoder.h"

/* 0, or -1 when out of memory. */
int encoder_messages(struct encoder *e);

#endif
