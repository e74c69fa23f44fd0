// zxwasm decodes 8-bit PGM frames with zxing-wasm (zxing-cpp 3.x compiled
// to WebAssembly, run by node), QR codes only, try-harder as zxbench's
// zxing-cpp, and prints per frame the median time of several runs and the
// texts found (hex-encoded UTF-8), one tab-separated line each, as zxbench:
//
//	file <TAB> zxing-wasm <TAB> ms <TAB> count <TAB> hex1 <TAB> hex2 ...
//
// Usage: node zxwasm.mjs [-r REPEATS] < list-of-pgm-files
// Times are wall-clock per call (performance.now): WebAssembly's, not
// native code's; report them apart.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { prepareZXingModule, readBarcodes } from "zxing-wasm/reader";

const require = createRequire(import.meta.url);
const wasm = readFileSync(require.resolve("zxing-wasm/reader/zxing_reader.wasm"));
await prepareZXingModule({ overrides: { wasmBinary: wasm }, fireImmediately: true });

if (typeof globalThis.ImageData === "undefined") {
	globalThis.ImageData = class ImageData {
		constructor(data, width, height) {
			this.data = data;
			this.width = width;
			this.height = height;
			this.colorSpace = "srgb";
		}
	};
}

const reps = process.argv[2] === "-r" ? Number(process.argv[3]) : 5;
const opts = { formats: ["QRCode"], tryHarder: true, tryRotate: true, tryInvert: true, tryDownscale: true, maxNumberOfSymbols: 255 };

function readPGM(path) {
	const b = readFileSync(path);
	let i = 0;
	const tok = () => {
		for (;;) {
			while (i < b.length && /\s/.test(String.fromCharCode(b[i]))) i++;
			if (b[i] === 0x23) { while (i < b.length && b[i] !== 0x0a) i++; continue; }
			break;
		}
		const s = i;
		while (i < b.length && !/\s/.test(String.fromCharCode(b[i]))) i++;
		return String.fromCharCode(...b.subarray(s, i));
	};
	if (tok() !== "P5") throw new Error(`${path}: not a binary PGM`);
	const w = Number(tok()), h = Number(tok()), max = Number(tok());
	if (max !== 255) throw new Error(`${path}: maximum value ${max}`);
	i++;
	const gray = b.subarray(i, i + w * h);
	const rgba = new Uint8ClampedArray(4 * w * h);
	for (let k = 0; k < w * h; k++) {
		const v = gray[k];
		rgba[4 * k] = v; rgba[4 * k + 1] = v; rgba[4 * k + 2] = v; rgba[4 * k + 3] = 255;
	}
	return new ImageData(rgba, w, h);
}

const hex = (s) => Buffer.from(s, "utf8").toString("hex");

const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
	const file = line.trim();
	if (!file) continue;
	const img = readPGM(file);
	const t = [];
	let res = [];
	for (let r = 0; r < reps; r++) {
		const t0 = performance.now();
		res = await readBarcodes(img, opts);
		t.push(performance.now() - t0);
	}
	t.sort((a, b) => a - b);
	const texts = res.filter((x) => x.isValid).map((x) => hex(x.text));
	process.stdout.write([file, "zxing-wasm", t[t.length >> 1].toFixed(3), texts.length, ...texts].join("\t") + "\n");
}
