/* libFuzzer target: the -F properties parser and the option-file (~/.my.cnf) parser must never
   crash on any text. */
#include "db.h"
#include "kconf.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int on_prop(const char *k, const char *v, void *ctx, char *err)
{
	(void)err;
	(*(size_t *)ctx) += strlen(k) + strlen(v);
	return 0;
}

static void on_cnf(const char *g, const char *k, const char *v, void *ctx)
{
	(*(size_t *)ctx) += strlen(g) + strlen(k) + strlen(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[U_ERRLEN];
	size_t total = 0;
	kc_parse_props((const char *)data, size, "fuzz", on_prop, &total, err);
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = 0;
	db_parse_cnf(text, "fuzz", on_cnf, &total, err);
	free(text);
	return 0;
}
