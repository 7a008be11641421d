/* Reading PNG text metadata back, to check what vte_png_write stored. */
#ifndef VTE_TEST_PNG_TEXT_H
#define VTE_TEST_PNG_TEXT_H

/* The value of the first tEXt, zTXt or iTXt chunk whose keyword is `key`, as malloc'ed UTF-8 (tEXt/zTXt
 * Latin-1 is converted), or NULL when the file is not a PNG, cannot be read, or has no such chunk. */
char *vte_test_png_read_text(const char *path, const char *key);

#endif
