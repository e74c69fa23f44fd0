/* zbarread wraps zbar's C API for zxbench.cc (zbar's C++ headers clash with
 * zxing-cpp's). */
#include <zbar.h>

#include "zbarread.h"

void *zb_new(void) {
	zbar_image_scanner_t *sc = zbar_image_scanner_create();
	zbar_image_scanner_set_config(sc, ZBAR_NONE, ZBAR_CFG_ENABLE, 0);
	zbar_image_scanner_set_config(sc, ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1);
	return sc;
}

void zb_free(void *sc) { zbar_image_scanner_destroy(sc); }

int zb_scan(void *sc, const unsigned char *pix, int w, int h, zb_cb cb, void *ctx) {
	zbar_image_t *img = zbar_image_create();
	zbar_image_set_format(img, zbar_fourcc('Y', '8', '0', '0'));
	zbar_image_set_size(img, w, h);
	zbar_image_set_data(img, pix, (unsigned long)w * h, 0);
	int n = 0;
	if (zbar_scan_image(sc, img) > 0) {
		for (const zbar_symbol_t *s = zbar_image_first_symbol(img); s; s = zbar_symbol_next(s)) {
			cb(ctx, zbar_symbol_get_data(s), zbar_symbol_get_data_length(s));
			n++;
		}
	}
	zbar_image_destroy(img);
	return n;
}
