// zlib for gzip-compressed IDX files and PNG (deflate + CRC-32), as swift-nio's CNIOExtrasZlib does.
#ifndef VAE_DIST_ZLIB_SHIM_H
#define VAE_DIST_ZLIB_SHIM_H
#include <zlib.h>

// inflateInit2/deflateInit2 are macros (they pass the version and struct size); wrap them.
static inline int shim_inflateInit2(z_streamp strm, int windowBits) {
    return inflateInit2(strm, windowBits);
}
static inline int shim_deflateInit2(z_streamp strm, int level, int method, int windowBits, int memLevel, int strategy) {
    return deflateInit2(strm, level, method, windowBits, memLevel, strategy);
}
#endif
