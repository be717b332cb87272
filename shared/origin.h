/* Browser safety, as policy only (no I/O): which requests a web page may
 * make through the proxy, and the CORS headers of those it may.
 *
 * - Origin: browsers send it on every cross-site POST (fetch and forms). A
 *   request carrying one that cors_origins does not list ("*" lists all) is
 *   refused (403 origin_not_allowed). No Origin (curl, SDKs) is served.
 * - Host: DNS rebinding lets a page address the proxy under the attacker's
 *   name. Where the proxy spends a token the client did not bring (a server
 *   token and no master_key), or where server_names is set, Host (port
 *   ignored) must be an IP literal (rebinding needs a DNS name), localhost,
 *   the listen host or one of server_names; else 421 host_not_allowed. Names
 *   compare case-insensitively. A request without Host is left to HTTP
 *   parsing (HTTP/1.0). */
#ifndef RP_ORIGIN_H
#define RP_ORIGIN_H

#include <stddef.h>

#include "config.h"
#include "oai_error.h"

/* 0 to serve the request, or -1 with err filled (421 or 403). host and
 * origin are the header values, NULL when absent. */
int origin_check(const struct config *cfg, const char *host, const char *origin,
                 struct oai_error *err);

/* The parts of origin_check, for tests and callers that need one. */
int origin_host_check_applies(const struct config *cfg);
int origin_host_allowed(const struct config *cfg, const char *host);
int origin_allowed(const struct config *cfg, const char *origin);

struct origin_header {
  const char *name, *value; /* borrowed: static text or the arguments */
};
#define ORIGIN_HEADERS_MAX 6

/* Headers for a reply to an allowed origin (Allow-Origin, Vary,
 * Expose-Headers). Returns how many were written to out. */
size_t origin_reply_headers(const char *origin, struct origin_header *out);

/* Headers for a preflight (OPTIONS) from an allowed origin: Allow-Origin,
 * Allow-Methods, Allow-Headers (the requested ones echoed when they are a
 * plain list of header names, else the ones clients use), Max-Age, Vary. */
size_t origin_preflight_headers(const char *origin, const char *requested_headers,
                                struct origin_header *out);

/* The methods served, for `Allow` on OPTIONS without Origin. */
#define ORIGIN_ALLOWED_METHODS "GET, POST, OPTIONS"

#endif
