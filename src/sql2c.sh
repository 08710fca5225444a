#!/bin/sh
# Turn sql/NNN-*.sql migration files into schema.c: one C string per schema
# version, in the order given.  Version N is the N-th file.
set -e
echo '/* Generated from sql/ by sql2c.sh; do not edit. */'
echo '#include <stddef.h>'
echo 'const char *const schema_migrations[] = {'
for f in "$@"; do
	printf '\t/* %s */\n' "$(basename "$f")"
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/\t"/' -e 's/$/\\n"/' "$f"
	printf '\t,\n'
done
echo '};'
echo 'const size_t schema_nmigrations = sizeof(schema_migrations) / sizeof(schema_migrations[0]);'
