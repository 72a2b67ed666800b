#ifndef COMMON_CURL_LAZY_H
#define COMMON_CURL_LAZY_H

/* libcurl, loaded on first use with dlopen(). Linking it pulls in some
 * thirty shared libraries (about 12 ms and 2 MB on every start) that a poll
 * with nothing new, or an LMTP delivery, never needs.
 *
 * Include after <curl/curl.h> (with CURL_DISABLE_TYPECHECK defined before
 * it): the curl_* names used by smtp.c and conn.c (SOCKS proxies) then go
 * through the loaded table. Call curl_lazy_load() before any of them. */

#ifndef CURL_DISABLE_TYPECHECK
#define CURL_DISABLE_TYPECHECK
#endif
#include <curl/curl.h>

#include "err.h"

struct curl_lazy {
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_cleanup)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	char *(*easy_escape)(CURL *, const char *, int);
	void (*free)(void *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
};

extern struct curl_lazy curl_lazy;

/* Returns 0 once libcurl is loaded, or -1 with ERR_SYS naming the
 * library and dlerror()'s reason. */
int curl_lazy_load(struct err *err);

/* curl.h wraps these two in argument-count macros. */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_easy_init (*curl_lazy.easy_init)
#define curl_easy_setopt (*curl_lazy.easy_setopt)
#define curl_easy_perform (*curl_lazy.easy_perform)
#define curl_easy_getinfo (*curl_lazy.easy_getinfo)
#define curl_easy_cleanup (*curl_lazy.easy_cleanup)
#define curl_easy_strerror (*curl_lazy.easy_strerror)
#define curl_easy_escape (*curl_lazy.easy_escape)
#define curl_free (*curl_lazy.free)
#define curl_slist_append (*curl_lazy.slist_append)
#define curl_slist_free_all (*curl_lazy.slist_free_all)

#endif
