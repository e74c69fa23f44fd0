// Package hostile holds cross-package fuzz targets: hostile images and
// camera frames taken through the whole data path (image decoding, QR
// detection and decoding, payload parsing, judging against a real cache),
// where each package's own targets cover one step.
package hostile
