// zxbench decodes 8-bit PGM frames with zxing-cpp and with zbar, QR codes
// only, and prints per frame and engine the median time of several runs and
// the texts found (hex-encoded UTF-8), one tab-separated line each:
//
//	file <TAB> engine <TAB> ms <TAB> count <TAB> hex1 <TAB> hex2 ...
//
// Usage: zxbench [-r REPEATS] < list-of-pgm-files
#define ZX_USE_UTF8 1
#include <ZXing/ReadBarcode.h>

#include "zbarread.h"

#include <algorithm>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

struct Gray {
	int w = 0, h = 0;
	std::vector<uint8_t> pix;
};

bool readPGM(const std::string& path, Gray& g) {
	std::ifstream in(path, std::ios::binary);
	if (!in) return false;
	std::string magic;
	in >> magic;
	if (magic != "P5") return false;
	int maxv = 0;
	auto skip = [&]() {
		for (;;) {
			int c = in.peek();
			if (c == '#') {
				std::string line;
				std::getline(in, line);
			} else if (std::isspace(c)) {
				in.get();
			} else {
				return;
			}
		}
	};
	skip();
	in >> g.w;
	skip();
	in >> g.h;
	skip();
	in >> maxv;
	in.get();
	if (g.w <= 0 || g.h <= 0 || maxv != 255) return false;
	g.pix.resize(size_t(g.w) * g.h);
	in.read(reinterpret_cast<char*>(g.pix.data()), g.pix.size());
	return bool(in);
}

std::string hex(const std::string& s) {
	static const char* d = "0123456789abcdef";
	std::string out;
	for (unsigned char c : s) {
		out += d[c >> 4];
		out += d[c & 15];
	}
	return out;
}

// Times are the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), as the Go side
// measures: other processes' load on a shared machine does not inflate it.
double cpuMs() {
	timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

std::vector<std::string> zxingRead(const Gray& g) {
	ZXing::DecodeHints hints;
	hints.setFormats(ZXing::BarcodeFormat::QRCode);
	auto results = ZXing::ReadBarcodes(ZXing::ImageView(g.pix.data(), g.w, g.h, ZXing::ImageFormat::Lum), hints);
	std::vector<std::string> out;
	for (auto& r : results)
		if (r.isValid()) out.push_back(r.text());
	return out;
}

std::vector<std::string> zbarRead(void* sc, const Gray& g) {
	std::vector<std::string> out;
	zb_scan(sc, g.pix.data(), g.w, g.h,
		[](void* ctx, const char* data, unsigned len) {
			static_cast<std::vector<std::string>*>(ctx)->emplace_back(data, len);
		},
		&out);
	return out;
}

template <class F>
void run(const std::string& file, const char* engine, int reps, F f) {
	std::vector<double> t;
	std::vector<std::string> texts;
	for (int i = 0; i < reps; i++) {
		double a = cpuMs();
		texts = f();
		t.push_back(cpuMs() - a);
	}
	std::sort(t.begin(), t.end());
	std::printf("%s\t%s\t%.4f\t%zu", file.c_str(), engine, t[t.size() / 2], texts.size());
	for (auto& s : texts) std::printf("\t%s", hex(s).c_str());
	std::printf("\n");
}

} // namespace

int main(int argc, char** argv) {
	int reps = 5;
	for (int i = 1; i < argc; i++) {
		if (!std::strcmp(argv[i], "-r") && i + 1 < argc) {
			reps = std::max(1, std::atoi(argv[++i]));
		} else {
			std::fprintf(stderr, "usage: zxbench [-r REPEATS] < files\n");
			return 2;
		}
	}
	void* sc = zb_new();
	std::string file;
	int bad = 0;
	while (std::getline(std::cin, file)) {
		if (file.empty()) continue;
		Gray g;
		if (!readPGM(file, g)) {
			std::fprintf(stderr, "zxbench: cannot read %s\n", file.c_str());
			bad++;
			continue;
		}
		run(file, "zxing-cpp", reps, [&] { return zxingRead(g); });
		run(file, "zbar", reps, [&] { return zbarRead(sc, g); });
		std::fflush(stdout);
	}
	zb_free(sc);
	return bad ? 1 : 0;
}
