/* Response codes of status responses (imap_data.h). */

#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "imap_data.h"
#include "imap_data_int.h"
#include "imap_parse.h"
#include "uidlist.h"

/* ---- response codes ---- */

static const char *const code_names[] = {
	[IMAP_CODE_NONE] = "",
	[IMAP_CODE_OTHER] = "",
	[IMAP_CODE_ALERT] = "ALERT",
	[IMAP_CODE_PARSE] = "PARSE",
	[IMAP_CODE_TRYCREATE] = "TRYCREATE",
	[IMAP_CODE_READ_ONLY] = "READ-ONLY",
	[IMAP_CODE_READ_WRITE] = "READ-WRITE",
	[IMAP_CODE_UIDVALIDITY] = "UIDVALIDITY",
	[IMAP_CODE_UIDNEXT] = "UIDNEXT",
	[IMAP_CODE_UNSEEN] = "UNSEEN",
	[IMAP_CODE_PERMANENTFLAGS] = "PERMANENTFLAGS",
	[IMAP_CODE_CAPABILITY] = "CAPABILITY",
	[IMAP_CODE_APPENDUID] = "APPENDUID",
	[IMAP_CODE_COPYUID] = "COPYUID",
	[IMAP_CODE_UIDNOTSTICKY] = "UIDNOTSTICKY",
	[IMAP_CODE_HIGHESTMODSEQ] = "HIGHESTMODSEQ",
	[IMAP_CODE_NOMODSEQ] = "NOMODSEQ",
	[IMAP_CODE_MODIFIED] = "MODIFIED",
	[IMAP_CODE_CLOSED] = "CLOSED",
	[IMAP_CODE_COMPRESSIONACTIVE] = "COMPRESSIONACTIVE",
	[IMAP_CODE_NOTIFICATIONOVERFLOW] = "NOTIFICATIONOVERFLOW",
	[IMAP_CODE_BADEVENT] = "BADEVENT",
};

enum imap_code
imap_code(const struct imap_resp *r)
{
	size_t c;

	if (r->status == NULL || r->code == NULL)
		return IMAP_CODE_NONE;
	for (c = IMAP_CODE_ALERT; c < ARRAY_LEN(code_names); c++)
		if (str_ieq(r->code, code_names[c]))
			return (enum imap_code)c;
	return IMAP_CODE_OTHER;
}

const char *
imap_code_name(enum imap_code c)
{
	return (size_t)c < ARRAY_LEN(code_names) ? code_names[c] : "";
}

/* The code's arguments must number exactly n. */
static int
code_nargs(const struct imap_resp *r, size_t n, struct err *err)
{
	if (r->code_nargs == n)
		return 0;
	return err_set(err, ERR_PROTO, "[%s]: expected %zu argument%s, got %zu",
	    r->code, n, n == 1 ? "" : "s", r->code_nargs);
}

int
imap_code_number(const struct imap_resp *r, uint64_t *v_r, struct err *err)
{
	enum numkind k;

	switch (imap_code(r)) {
	case IMAP_CODE_UIDVALIDITY:
	case IMAP_CODE_UIDNEXT:
	case IMAP_CODE_UNSEEN:
		k = N_NZ32;
		break;
	case IMAP_CODE_HIGHESTMODSEQ:
		k = N_MODSEQ;
		break;
	default:
		return 0;
	}
	if (code_nargs(r, 1, err) < 0 ||
	    idata_num(&r->code_args[0], k, v_r, err, r->code) < 0)
		return -1;
	return 1;
}

int
imap_code_appenduid(const struct imap_resp *r, uint32_t *uidvalidity_r,
    struct uidset *uids, struct err *err)
{
	if (imap_code(r) != IMAP_CODE_APPENDUID)
		return 0;
	if (code_nargs(r, 2, err) < 0 ||
	    idata_u32(&r->code_args[0], N_NZ32, uidvalidity_r, err,
	    "APPENDUID") < 0 ||
	    idata_set(&r->code_args[1], uids, true, err, "APPENDUID") < 0)
		return -1;
	return 1;
}

int
imap_code_copyuid(const struct imap_resp *r, uint32_t *uidvalidity_r,
    struct uidset *src, struct uidset *dst, struct err *err)
{
	struct uidset s = UIDSET_INIT, d = UIDSET_INIT;
	size_t i;
	int ret = -1;

	if (imap_code(r) != IMAP_CODE_COPYUID)
		return 0;
	/* Parsed apart from the caller's sets so that the counts compare
	 * this response's UIDs only. */
	if (code_nargs(r, 3, err) < 0 ||
	    idata_u32(&r->code_args[0], N_NZ32, uidvalidity_r, err,
	    "COPYUID") < 0 ||
	    idata_set(&r->code_args[1], &s, true, err, "COPYUID source") < 0 ||
	    idata_set(&r->code_args[2], &d, true, err, "COPYUID destination") < 0)
		goto out;
	if (uidset_count(&s) != uidset_count(&d)) {
		err_set(err, ERR_PROTO,
		    "COPYUID: %llu source UIDs but %llu destination UIDs",
		    (unsigned long long)uidset_count(&s),
		    (unsigned long long)uidset_count(&d));
		goto out;
	}
	for (i = 0; i < s.n; i++)
		uidset_add(src, s.r[i].lo, s.r[i].hi);
	for (i = 0; i < d.n; i++)
		uidset_add(dst, d.r[i].lo, d.r[i].hi);
	ret = 1;
out:
	uidset_free(&s);
	uidset_free(&d);
	return ret;
}

int
imap_code_modified(const struct imap_resp *r, struct uidset *set,
    struct err *err)
{
	if (imap_code(r) != IMAP_CODE_MODIFIED)
		return 0;
	if (code_nargs(r, 1, err) < 0 ||
	    idata_set(&r->code_args[0], set, false, err, "MODIFIED") < 0)
		return -1;
	return 1;
}

int
imap_code_atoms(const struct imap_resp *r, struct imap_atoms *a_r,
    struct err *err)
{
	switch (imap_code(r)) {
	case IMAP_CODE_CAPABILITY:
		if (r->code_nargs == 0)
			return err_set(err, ERR_PROTO,
			    "[CAPABILITY]: no capabilities");
		return idata_atoms(r->code_args, r->code_nargs, a_r, err,
		    "[CAPABILITY]") < 0 ? -1 : 1;
	case IMAP_CODE_BADEVENT:
		/* RFC 5465 §8: "BADEVENT" SP "(" event *(SP event) ")" */
		if (code_nargs(r, 1, err) < 0 ||
		    idata_atom_list(&r->code_args[0], a_r, err, "[BADEVENT]") < 0)
			return -1;
		if (a_r->n == 0)
			return err_set(err, ERR_PROTO, "[BADEVENT]: no events");
		return 1;
	default:
		return 0;
	}
}

int
imap_code_permanentflags(const struct imap_resp *r,
    struct imap_atoms *a_r, bool *star_r, struct err *err)
{
	if (imap_code(r) != IMAP_CODE_PERMANENTFLAGS)
		return 0;
	if (code_nargs(r, 1, err) < 0 ||
	    idata_atom_list(&r->code_args[0], a_r, err, "[PERMANENTFLAGS]") < 0)
		return -1;
	*star_r = imap_atoms_has(a_r, "\\*");
	return 1;
}
