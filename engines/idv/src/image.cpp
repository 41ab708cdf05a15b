// Image decoding from memory (JPEG via libjpeg, PNG via libpng, JPEG 2000 via OpenJPEG) and the
// few grayscale operations the barcode and OCR paths need. Dimensions are checked against the
// limits from the header, before any pixel buffer is allocated.
#include <csetjmp>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <algorithm>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <openjpeg.h>

#include "common.hpp"

namespace idv {

namespace {

void check_dims(long long w, long long h) {
    if (w <= 0 || h <= 0) throw EngineError{"image_decode_failed", 1};
    if (w > kMaxDimension || h > kMaxDimension) throw EngineError{"image_too_large", 1};
}

// ---------------- JPEG
struct JpegErr {
    jpeg_error_mgr mgr;
    jmp_buf jump;
    bool premature_end;
    bool too_big;  // libjpeg's own dimension limit (65500)
};

void jpeg_error_exit(j_common_ptr cinfo) {
    auto* err = reinterpret_cast<JpegErr*>(cinfo->err);
    if (err->mgr.msg_code == JERR_IMAGE_TOO_BIG) err->too_big = true;
    longjmp(err->jump, 1);
}

// Warnings are not printed; a "premature end of data" warning (truncated file) is remembered.
void jpeg_silent(j_common_ptr cinfo, int level) {
    auto* err = reinterpret_cast<JpegErr*>(cinfo->err);
    if (level < 0 && err->mgr.msg_code == JWRN_JPEG_EOF) err->premature_end = true;
}
void jpeg_silent_output(j_common_ptr) {}

Image decode_jpeg(const std::vector<uint8_t>& bytes) {
    jpeg_decompress_struct cinfo;
    JpegErr jerr;
    cinfo.err = jpeg_std_error(&jerr.mgr);
    jerr.mgr.error_exit = jpeg_error_exit;
    jerr.mgr.emit_message = jpeg_silent;
    jerr.mgr.output_message = jpeg_silent_output;
    jerr.premature_end = false;
    jerr.too_big = false;
    // Everything that must survive a longjmp lives outside this frame's automatic variables
    // that are modified after setjmp.
    Image* volatile img = new Image();
    volatile int too_large = 0;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&cinfo);
        delete img;
        if (too_large || jerr.too_big) throw EngineError{"image_too_large", 1};
        throw EngineError{"image_decode_failed", 1};
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.image_width > static_cast<unsigned>(kMaxDimension) ||
        cinfo.image_height > static_cast<unsigned>(kMaxDimension)) {
        too_large = 1;
        longjmp(jerr.jump, 1);
    }
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    if (cinfo.output_components != 3 || cinfo.output_width == 0 || cinfo.output_height == 0) longjmp(jerr.jump, 1);
    img->width = static_cast<int>(cinfo.output_width);
    img->height = static_cast<int>(cinfo.output_height);
    img->rgb.resize(static_cast<size_t>(img->width) * img->height * 3);
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = img->rgb.data() + static_cast<size_t>(cinfo.output_scanline) * img->width * 3;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    // A truncated file makes libjpeg warn and pad with grey; that is answered as a failure.
    bool truncated = jerr.premature_end;
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    Image out = std::move(*img);
    delete img;
    if (truncated) throw EngineError{"image_decode_failed", 1};
    return out;
}

// EXIF orientation (tag 0x0112 in IFD0 of an APP1 "Exif" segment), 1 when absent or invalid.
int jpeg_exif_orientation(const std::vector<uint8_t>& b) {
    size_t i = 2;  // after SOI
    while (i + 4 <= b.size() && b[i] == 0xFF) {
        const uint8_t marker = b[i + 1];
        if (marker == 0xDA || marker == 0xD9) break;  // start of scan / end of image
        const size_t len = (static_cast<size_t>(b[i + 2]) << 8) | b[i + 3];
        if (len < 2 || i + 2 + len > b.size()) break;
        const size_t seg = i + 4, seg_len = len - 2;
        if (marker == 0xE1 && seg_len >= 14 && std::memcmp(&b[seg], "Exif\0\0", 6) == 0) {
            const size_t tiff = seg + 6, tiff_len = seg_len - 6;
            const bool le = b[tiff] == 'I' && b[tiff + 1] == 'I';
            if (!le && !(b[tiff] == 'M' && b[tiff + 1] == 'M')) return 1;
            auto u16 = [&](size_t o) -> uint32_t {
                return le ? (b[tiff + o] | (b[tiff + o + 1] << 8)) : ((b[tiff + o] << 8) | b[tiff + o + 1]);
            };
            auto u32 = [&](size_t o) -> uint32_t { return le ? (u16(o) | (u16(o + 2) << 16)) : ((u16(o) << 16) | u16(o + 2)); };
            const uint32_t ifd = u32(4);
            if (ifd + 2 > tiff_len) return 1;
            const uint32_t n = u16(ifd);
            for (uint32_t k = 0; k < n; ++k) {
                const size_t e = ifd + 2 + static_cast<size_t>(k) * 12;
                if (e + 12 > tiff_len) return 1;
                if (u16(e) == 0x0112 && u16(e + 2) == 3) {
                    const uint32_t v = u16(e + 8);
                    return (v >= 1 && v <= 8) ? static_cast<int>(v) : 1;
                }
            }
            return 1;
        }
        i += 2 + len;
    }
    return 1;
}

// Turns stored pixels into the upright image an EXIF orientation describes.
Image apply_orientation(const Image& in, int o) {
    if (o <= 1 || o > 8) return in;
    const int W = in.width, H = in.height;
    const bool swap = o >= 5;
    Image out;
    out.width = swap ? H : W;
    out.height = swap ? W : H;
    out.rgb.resize(in.rgb.size());
    for (int v = 0; v < out.height; ++v) {
        for (int u = 0; u < out.width; ++u) {
            int x = u, y = v;
            switch (o) {
                case 2: x = W - 1 - u; y = v; break;
                case 3: x = W - 1 - u; y = H - 1 - v; break;
                case 4: x = u; y = H - 1 - v; break;
                case 5: x = v; y = u; break;
                case 6: x = v; y = H - 1 - u; break;
                case 7: x = W - 1 - v; y = H - 1 - u; break;
                case 8: x = W - 1 - v; y = u; break;
            }
            std::memcpy(&out.rgb[(static_cast<size_t>(v) * out.width + u) * 3], &in.rgb[(static_cast<size_t>(y) * W + x) * 3], 3);
        }
    }
    return out;
}

// ---------------- PNG (libpng simplified API)
Image decode_png(const std::vector<uint8_t>& bytes) {
    // The dimensions from IHDR (always the first chunk) before libpng reads further.
    if (bytes.size() >= 24 && std::memcmp(&bytes[12], "IHDR", 4) == 0) {
        auto be32 = [&](size_t o) {
            return (static_cast<uint32_t>(bytes[o]) << 24) | (static_cast<uint32_t>(bytes[o + 1]) << 16) |
                   (static_cast<uint32_t>(bytes[o + 2]) << 8) | bytes[o + 3];
        };
        if (be32(16) > static_cast<uint32_t>(kMaxDimension) || be32(20) > static_cast<uint32_t>(kMaxDimension))
            throw EngineError{"image_too_large", 1};
    }
    png_image pimg;
    std::memset(&pimg, 0, sizeof pimg);
    pimg.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&pimg, bytes.data(), bytes.size())) {
        throw EngineError{"image_decode_failed", 1};
    }
    if (pimg.width > static_cast<unsigned>(kMaxDimension) || pimg.height > static_cast<unsigned>(kMaxDimension)) {
        png_image_free(&pimg);
        throw EngineError{"image_too_large", 1};
    }
    pimg.format = PNG_FORMAT_RGB;
    Image img;
    img.width = static_cast<int>(pimg.width);
    img.height = static_cast<int>(pimg.height);
    img.rgb.resize(PNG_IMAGE_SIZE(pimg));
    png_color white{255, 255, 255};  // transparent areas composed onto white
    if (!png_image_finish_read(&pimg, &white, img.rgb.data(), 0, nullptr)) {
        png_image_free(&pimg);
        throw EngineError{"image_decode_failed", 1};
    }
    png_image_free(&pimg);
    return img;
}

// ---------------- JPEG 2000 (OpenJPEG with a memory stream)
struct MemStream {
    const uint8_t* data;
    size_t size;
    size_t pos;
};

OPJ_SIZE_T mem_read(void* buf, OPJ_SIZE_T n, void* user) {
    auto* m = static_cast<MemStream*>(user);
    if (m->pos >= m->size) return static_cast<OPJ_SIZE_T>(-1);
    size_t k = std::min(n, m->size - m->pos);
    std::memcpy(buf, m->data + m->pos, k);
    m->pos += k;
    return k;
}
OPJ_OFF_T mem_skip(OPJ_OFF_T n, void* user) {
    auto* m = static_cast<MemStream*>(user);
    if (n < 0) {
        if (static_cast<size_t>(-n) > m->pos) return -1;
        m->pos -= static_cast<size_t>(-n);
        return n;
    }
    size_t k = std::min(static_cast<size_t>(n), m->size - m->pos);
    m->pos += k;
    return static_cast<OPJ_OFF_T>(k);
}
OPJ_BOOL mem_seek(OPJ_OFF_T n, void* user) {
    auto* m = static_cast<MemStream*>(user);
    if (n < 0 || static_cast<size_t>(n) > m->size) return OPJ_FALSE;
    m->pos = static_cast<size_t>(n);
    return OPJ_TRUE;
}
void opj_quiet(const char*, void*) {}

Image decode_jpeg2000(const std::vector<uint8_t>& bytes, bool jp2) {
    MemStream ms{bytes.data(), bytes.size(), 0};
    opj_stream_t* stream = opj_stream_create(64 * 1024, OPJ_TRUE);
    opj_stream_set_user_data(stream, &ms, nullptr);
    opj_stream_set_user_data_length(stream, bytes.size());
    opj_stream_set_read_function(stream, mem_read);
    opj_stream_set_skip_function(stream, mem_skip);
    opj_stream_set_seek_function(stream, mem_seek);
    opj_codec_t* codec = opj_create_decompress(jp2 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K);
    opj_set_info_handler(codec, opj_quiet, nullptr);
    opj_set_warning_handler(codec, opj_quiet, nullptr);
    opj_set_error_handler(codec, opj_quiet, nullptr);
    opj_dparameters_t params;
    opj_set_default_decoder_parameters(&params);
    opj_image_t* im = nullptr;
    auto cleanup = [&]() {
        if (im) opj_image_destroy(im);
        opj_destroy_codec(codec);
        opj_stream_destroy(stream);
    };
    if (!opj_setup_decoder(codec, &params) || !opj_read_header(stream, codec, &im) || !im) {
        cleanup();
        throw EngineError{"image_decode_failed", 1};
    }
    long long w = static_cast<long long>(im->x1) - im->x0;
    long long h = static_cast<long long>(im->y1) - im->y0;
    try {
        check_dims(w, h);
    } catch (...) {
        cleanup();
        throw;
    }
    if (!opj_decode(codec, stream, im) || !opj_end_decompress(codec, stream) || im->numcomps < 1) {
        cleanup();
        throw EngineError{"image_decode_failed", 1};
    }
    Image img;
    img.width = static_cast<int>(w);
    img.height = static_cast<int>(h);
    img.rgb.assign(static_cast<size_t>(w) * h * 3, 0);
    int nc = im->numcomps >= 3 ? 3 : 1;
    for (int c = 0; c < nc; ++c) {
        const opj_image_comp_t& comp = im->comps[c];
        if (!comp.data || comp.w == 0 || comp.h == 0 || comp.dx == 0 || comp.dy == 0 || comp.prec == 0 ||
            comp.prec > 31) {
            cleanup();
            throw EngineError{"image_decode_failed", 1};
        }
    }
    bool sycc = im->color_space == OPJ_CLRSPC_SYCC;
    for (int y = 0; y < img.height; ++y) {
        for (int x = 0; x < img.width; ++x) {
            double v[3] = {0, 0, 0};
            for (int c = 0; c < nc; ++c) {
                const opj_image_comp_t& comp = im->comps[c];
                unsigned cx = std::min<unsigned>(static_cast<unsigned>(x) / comp.dx, comp.w - 1);
                unsigned cy = std::min<unsigned>(static_cast<unsigned>(y) / comp.dy, comp.h - 1);
                double s = comp.data[static_cast<size_t>(cy) * comp.w + cx];
                if (comp.sgnd) s += static_cast<double>(1u << (comp.prec - 1));
                v[c] = s * 255.0 / static_cast<double>((1ull << comp.prec) - 1);
            }
            if (nc == 1) {
                v[1] = v[2] = v[0];
            } else if (sycc) {
                double Y = v[0], cb = v[1] - 128.0, cr = v[2] - 128.0;
                v[0] = Y + 1.402 * cr;
                v[1] = Y - 0.344136 * cb - 0.714136 * cr;
                v[2] = Y + 1.772 * cb;
            }
            uint8_t* p = &img.rgb[(static_cast<size_t>(y) * img.width + x) * 3];
            for (int c = 0; c < 3; ++c) p[c] = static_cast<uint8_t>(std::clamp(std::lround(v[c]), 0L, 255L));
        }
    }
    cleanup();
    return img;
}

}  // namespace

Image decode_image(const std::vector<uint8_t>& b) {
    if (b.empty()) throw EngineError{"empty_image", 1};
    if (b.size() > kMaxImageBytes) throw EngineError{"image_too_large", 1};
    static const uint8_t kJp2[12] = {0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A};
    static const uint8_t kPng[8] = {0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A};
    if (b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
        return apply_orientation(decode_jpeg(b), jpeg_exif_orientation(b));
    if (b.size() >= 8 && std::memcmp(b.data(), kPng, 8) == 0) return decode_png(b);
    if (b.size() >= 12 && std::memcmp(b.data(), kJp2, 12) == 0) return decode_jpeg2000(b, true);
    if (b.size() >= 4 && b[0] == 0xFF && b[1] == 0x4F && b[2] == 0xFF && b[3] == 0x51) return decode_jpeg2000(b, false);
    throw EngineError{"unsupported_image_format", 1};
}

Gray to_gray(const Image& img) {
    Gray g;
    g.width = img.width;
    g.height = img.height;
    g.px.resize(static_cast<size_t>(img.width) * img.height);
    for (size_t i = 0; i < g.px.size(); ++i) {
        const uint8_t* p = &img.rgb[i * 3];
        g.px[i] = static_cast<uint8_t>((299u * p[0] + 587u * p[1] + 114u * p[2] + 500u) / 1000u);
    }
    return g;
}

Gray rotate_gray(const Gray& src, double degrees, uint8_t fill) {
    const double a = degrees * M_PI / 180.0;
    const double ca = std::cos(a), sa = std::sin(a);
    const int W = src.width, H = src.height;
    const int nw = static_cast<int>(std::ceil(std::fabs(W * ca) + std::fabs(H * sa)));
    const int nh = static_cast<int>(std::ceil(std::fabs(W * sa) + std::fabs(H * ca)));
    Gray out;
    out.width = nw;
    out.height = nh;
    out.px.assign(static_cast<size_t>(nw) * nh, fill);
    const double cx = (W - 1) / 2.0, cy = (H - 1) / 2.0;
    const double ncx = (nw - 1) / 2.0, ncy = (nh - 1) / 2.0;
    // Counter-clockwise on screen (y down): destination (u,v) samples source by the inverse map.
    for (int v = 0; v < nh; ++v) {
        const double dy = v - ncy;
        for (int u = 0; u < nw; ++u) {
            const double dx = u - ncx;
            const double sx = ca * dx - sa * dy + cx;
            const double sy = sa * dx + ca * dy + cy;
            if (sx < 0 || sy < 0 || sx > W - 1 || sy > H - 1) continue;
            const int x0 = static_cast<int>(sx), y0 = static_cast<int>(sy);
            const int x1 = std::min(x0 + 1, W - 1), y1 = std::min(y0 + 1, H - 1);
            const double fx = sx - x0, fy = sy - y0;
            const double val = (1 - fy) * ((1 - fx) * src.at(x0, y0) + fx * src.at(x1, y0)) +
                               fy * ((1 - fx) * src.at(x0, y1) + fx * src.at(x1, y1));
            out.px[static_cast<size_t>(v) * nw + u] = static_cast<uint8_t>(val + 0.5);
        }
    }
    return out;
}

Gray resize_gray(const Gray& src, int nw, int nh) {
    Gray out;
    out.width = nw;
    out.height = nh;
    out.px.resize(static_cast<size_t>(nw) * nh);
    const double sx = static_cast<double>(src.width) / nw, sy = static_cast<double>(src.height) / nh;
    for (int y = 0; y < nh; ++y) {
        for (int x = 0; x < nw; ++x) {
            if (sx > 1.0 || sy > 1.0) {
                // area average when shrinking
                int x0 = static_cast<int>(x * sx), x1 = std::max(x0 + 1, static_cast<int>((x + 1) * sx));
                int y0 = static_cast<int>(y * sy), y1 = std::max(y0 + 1, static_cast<int>((y + 1) * sy));
                x1 = std::min(x1, src.width);
                y1 = std::min(y1, src.height);
                unsigned sum = 0, n = 0;
                for (int yy = y0; yy < y1; ++yy)
                    for (int xx = x0; xx < x1; ++xx) { sum += src.at(xx, yy); ++n; }
                out.px[static_cast<size_t>(y) * nw + x] = static_cast<uint8_t>(n ? sum / n : 255);
            } else {
                double fxs = std::clamp((x + 0.5) * sx - 0.5, 0.0, src.width - 1.0);
                double fys = std::clamp((y + 0.5) * sy - 0.5, 0.0, src.height - 1.0);
                int x0 = static_cast<int>(fxs), y0 = static_cast<int>(fys);
                int x1 = std::min(x0 + 1, src.width - 1), y1 = std::min(y0 + 1, src.height - 1);
                double fx = fxs - x0, fy = fys - y0;
                double val = (1 - fy) * ((1 - fx) * src.at(x0, y0) + fx * src.at(x1, y0)) +
                             fy * ((1 - fx) * src.at(x0, y1) + fx * src.at(x1, y1));
                out.px[static_cast<size_t>(y) * nw + x] = static_cast<uint8_t>(val + 0.5);
            }
        }
    }
    return out;
}

Gray crop_gray(const Gray& src, int x, int y, int w, int h) {
    x = std::clamp(x, 0, src.width);
    y = std::clamp(y, 0, src.height);
    w = std::clamp(w, 0, src.width - x);
    h = std::clamp(h, 0, src.height - y);
    Gray out;
    out.width = w;
    out.height = h;
    out.px.resize(static_cast<size_t>(w) * h);
    for (int r = 0; r < h; ++r)
        std::memcpy(&out.px[static_cast<size_t>(r) * w], &src.px[static_cast<size_t>(y + r) * src.width + x], w);
    return out;
}

}  // namespace idv
