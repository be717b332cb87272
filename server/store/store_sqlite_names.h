/* Included first by store_sqlite.c only: its store_* calls and struct store
 * become the sqlite_store_* engine of store_engine.h, so that file keeps its
 * own names while store.c owns the public ones. */
#ifndef RP_STORE_SQLITE_NAMES_H
#define RP_STORE_SQLITE_NAMES_H

#define store store_sqlite
#define store_open sqlite_store_open
#define store_close sqlite_store_close
#define store_secret sqlite_store_secret
#define store_keys_version sqlite_store_keys_version
#define store_key_insert sqlite_store_key_insert
#define store_key_update sqlite_store_key_update
#define store_key_retoken sqlite_store_key_retoken
#define store_key_delete sqlite_store_key_delete
#define store_key_get sqlite_store_key_get
#define store_key_list sqlite_store_key_list
#define store_key_spend sqlite_store_key_spend
#define store_key_spend_until sqlite_store_key_spend_until
#define store_ledger_insert sqlite_store_ledger_insert
#define store_spend_logs sqlite_store_spend_logs
#define store_spend_report sqlite_store_spend_report

#include "store_engine.h" /* the compiler checks the renamed definitions against it */

#endif
