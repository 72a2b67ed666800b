#ifndef COMMON_IMAP_DATA_INT_H
#define COMMON_IMAP_DATA_INT_H

/* What the response views share (imap_data.c, imap_data_mbox.c,
 * imap_code.c): strict checks of numbers, sets, strings and atom lists,
 * each returning 0, or -1 with err (ERR_PROTO) naming what is wrong. Not
 * for users of imap_data.h. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "imap_data.h"
#include "imap_parse.h"
#include "uidlist.h"

#define MODSEQ_MAX ((uint64_t)INT64_MAX) /* RFC 7162: 63-bit */

enum numkind {
	N_NZ32,    /* nz-number */
	N_32,      /* number */
	N_64,      /* a size */
	N_MODSEQ,  /* mod-sequence-value: 1..2^63-1 */
	N_MODSEQ0, /* mod-sequence-valzer: 0..2^63-1 */
};

/* A short printable excerpt of a for messages, in buf (size >= 16). */
const char *idata_show(const struct imap_arg *a, char *buf, size_t size);
/* A number of kind k (atom of digits, in range); what names it. */
int idata_num(const struct imap_arg *a, enum numkind k, uint64_t *v_r,
    struct err *err, const char *what);
int idata_u32(const struct imap_arg *a, enum numkind k, uint32_t *v_r,
    struct err *err, const char *what);
/* A sequence-set without "*", added to set (ascending: each range above
 * the previous one, as APPENDUID/COPYUID must be). */
int idata_set(const struct imap_arg *a, struct uidset *set, bool ascending,
    struct err *err, const char *what);
bool idata_is_string(const struct imap_arg *a);
bool idata_is_nstring(const struct imap_arg *a);
/* A mailbox name: a string without NUL. */
int idata_mailbox(const struct imap_arg *a, const char **s_r, size_t *len_r,
    struct err *err, const char *what);
/* n args that must all be atoms; a parenthesised list of atoms. */
int idata_atoms(const struct imap_arg *v, size_t n, struct imap_atoms *a_r,
    struct err *err, const char *what);
int idata_atom_list(const struct imap_arg *a, struct imap_atoms *a_r,
    struct err *err, const char *what);
/* An untagged data response named name (case-insensitive). */
bool idata_is_data(const struct imap_resp *r, const char *name);

#endif
