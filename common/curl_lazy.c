#include "util.h"

#include <dlfcn.h>
#include <stddef.h>
#include <string.h>

#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

#include "curl_lazy.h"

/* The SONAME of Debian's libcurl4 (OpenSSL flavour), the one the
 * headers of libcurl4-openssl-dev describe. */
#define LIBCURL "libcurl.so.4"

struct curl_lazy curl_lazy;
static void *handle;

int
curl_lazy_load(struct err *err)
{
	static const struct {
		const char *name;
		size_t off;
	} syms[] = {
#define S(f) {"curl_" #f, offsetof(struct curl_lazy, f)}
		S(easy_init), S(easy_setopt), S(easy_perform), S(easy_getinfo),
		S(easy_cleanup), S(easy_strerror), S(easy_escape), S(free),
		S(slist_append), S(slist_free_all),
#undef S
	};
	struct curl_lazy t;
	void *h;

	if (handle)
		return 0;
	if (!(h = dlopen(LIBCURL, RTLD_NOW | RTLD_LOCAL)))
		return err_set(err, ERR_SYS,
		    "SMTP delivery and SOCKS proxies need %s: %s", LIBCURL,
		    dlerror());
	for (size_t i = 0; i < ARRAY_LEN(syms); i++) {
		void *f = dlsym(h, syms[i].name);
		if (!f) {
			err_set(err, ERR_SYS, "%s: no symbol %s", LIBCURL,
			    syms[i].name);
			dlclose(h);
			return -1;
		}
		/* POSIX guarantees that data and function pointers convert. */
		memcpy((char *)&t + syms[i].off, &f, sizeof(f));
	}
	curl_lazy = t;
	handle = h;
	return 0;
}
