/* zbarread.h: the part of zbar zxbench uses, behind a C interface. */
#ifndef ZBARREAD_H
#define ZBARREAD_H
#ifdef __cplusplus
extern "C" {
#endif
typedef void (*zb_cb)(void *ctx, const char *data, unsigned len);
void *zb_new(void);
void zb_free(void *sc);
int zb_scan(void *sc, const unsigned char *pix, int w, int h, zb_cb cb, void *ctx);
#ifdef __cplusplus
}
#endif
#endif
