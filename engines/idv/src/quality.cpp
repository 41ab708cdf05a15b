// Capture quality of a document photo or a selfie: sharpness (variance of the Laplacian), glare
// (large near-saturated regions) and darkness, with advice codes from thresholds measured by
// interop/idv_engine_check.py (section "quality"; numbers in docs/idv-engines.md, "Quality").
#include <algorithm>
#include <cmath>
#include <cstring>

#include "common.hpp"

namespace idv {

namespace {

constexpr int kQualitySide = 1000;       // longer side of the working copy
constexpr int kGlareLevel = 245;         // every channel at least this: near-saturated
constexpr double kGlareMinRegion = 0.005;  // a glare region covers more than this of the image
constexpr int kDarkLevel = 40;           // luminance below this: dark pixel

// Advice thresholds, per kind, measured on generated cards and the fixture photos (numbers in
// docs/idv-engines.md, "Quality"). A face photo has far less fine detail than a card's print, and a
// selfie's background is often dark, so the two kinds need their own blur and dark thresholds.
struct Thresholds {
    double blur_min;   // blur below this: "blurry"
    double glare_max;  // glare above this: "glare"
    double dark_max;   // dark above this: "too_dark"
    int min_side;      // shorter side (input pixels) below this: "too_small"
};
constexpr Thresholds kDocument{150.0, 0.015, 0.25, 600};
constexpr Thresholds kSelfie{3.0, 0.015, 0.65, 300};

// RGB resize: area average when shrinking, bilinear when enlarging (per axis as resize_gray).
Image resize_rgb(const Image& src, int nw, int nh) {
    if (nw == src.width && nh == src.height) return src;
    Image out;
    out.width = nw;
    out.height = nh;
    out.rgb.resize(static_cast<size_t>(nw) * nh * 3);
    const double sx = static_cast<double>(src.width) / nw, sy = static_cast<double>(src.height) / nh;
    auto px = [&](int x, int y, int c) { return src.rgb[(static_cast<size_t>(y) * src.width + x) * 3 + c]; };
    for (int y = 0; y < nh; ++y) {
        for (int x = 0; x < nw; ++x) {
            uint8_t* o = &out.rgb[(static_cast<size_t>(y) * nw + x) * 3];
            if (sx > 1.0 || sy > 1.0) {
                int x0 = static_cast<int>(x * sx), x1 = std::max(x0 + 1, static_cast<int>((x + 1) * sx));
                int y0 = static_cast<int>(y * sy), y1 = std::max(y0 + 1, static_cast<int>((y + 1) * sy));
                x1 = std::min(x1, src.width);
                y1 = std::min(y1, src.height);
                unsigned sum[3] = {0, 0, 0}, n = 0;
                for (int yy = y0; yy < y1; ++yy)
                    for (int xx = x0; xx < x1; ++xx) {
                        for (int c = 0; c < 3; ++c) sum[c] += px(xx, yy, c);
                        ++n;
                    }
                for (int c = 0; c < 3; ++c) o[c] = static_cast<uint8_t>(n ? (sum[c] + n / 2) / n : 255);
            } else {
                double fxs = std::clamp((x + 0.5) * sx - 0.5, 0.0, src.width - 1.0);
                double fys = std::clamp((y + 0.5) * sy - 0.5, 0.0, src.height - 1.0);
                int x0 = static_cast<int>(fxs), y0 = static_cast<int>(fys);
                int x1 = std::min(x0 + 1, src.width - 1), y1 = std::min(y0 + 1, src.height - 1);
                double fx = fxs - x0, fy = fys - y0;
                for (int c = 0; c < 3; ++c) {
                    double v = (1 - fy) * ((1 - fx) * px(x0, y0, c) + fx * px(x1, y0, c)) +
                               fy * ((1 - fx) * px(x0, y1, c) + fx * px(x1, y1, c));
                    o[c] = static_cast<uint8_t>(v + 0.5);
                }
            }
        }
    }
    return out;
}

// Variance of the 4-neighbour Laplacian (0 1 0 / 1 -4 1 / 0 1 0) over the interior pixels.
double laplacian_variance(const Gray& g) {
    if (g.width < 3 || g.height < 3) return 0.0;
    double sum = 0, sum2 = 0;
    size_t n = 0;
    for (int y = 1; y < g.height - 1; ++y) {
        for (int x = 1; x < g.width - 1; ++x) {
            const double l = static_cast<double>(g.at(x - 1, y)) + g.at(x + 1, y) + g.at(x, y - 1) + g.at(x, y + 1) -
                             4.0 * g.at(x, y);
            sum += l;
            sum2 += l * l;
            ++n;
        }
    }
    const double mean = sum / n;
    return std::max(0.0, sum2 / n - mean * mean);
}

// Fraction of pixels that are near-saturated in all channels and belong to an 8-connected region
// of more than kGlareMinRegion of the image.
double glare_fraction(const Image& img) {
    const size_t total = static_cast<size_t>(img.width) * img.height;
    std::vector<uint8_t> mask(total);
    for (size_t i = 0; i < total; ++i) {
        const uint8_t* p = &img.rgb[i * 3];
        mask[i] = p[0] >= kGlareLevel && p[1] >= kGlareLevel && p[2] >= kGlareLevel;
    }
    const double min_region = kGlareMinRegion * static_cast<double>(total);
    size_t glare = 0;
    std::vector<size_t> stack;
    for (size_t start = 0; start < total; ++start) {
        if (mask[start] != 1) continue;
        mask[start] = 2;  // visited
        stack.assign(1, start);
        size_t size = 0;
        while (!stack.empty()) {
            const size_t i = stack.back();
            stack.pop_back();
            ++size;
            const int x = static_cast<int>(i % img.width), y = static_cast<int>(i / img.width);
            for (int dy = -1; dy <= 1; ++dy) {
                const int ny = y + dy;
                if (ny < 0 || ny >= img.height) continue;
                for (int dx = -1; dx <= 1; ++dx) {
                    const int nx = x + dx;
                    if (nx < 0 || nx >= img.width) continue;
                    const size_t j = static_cast<size_t>(ny) * img.width + nx;
                    if (mask[j] == 1) {
                        mask[j] = 2;
                        stack.push_back(j);
                    }
                }
            }
        }
        if (static_cast<double>(size) > min_region) glare += size;
    }
    return static_cast<double>(glare) / static_cast<double>(total);
}

double round_to(double v, double unit) { return std::round(v / unit) * unit; }

}  // namespace

Json quality_assess(const Image& img, bool document) {
    const int w = img.width, h = img.height;
    const int longer = std::max(w, h);
    const double s = static_cast<double>(kQualitySide) / longer;
    const int nw = std::max(1, static_cast<int>(std::lround(w * s)));
    const int nh = std::max(1, static_cast<int>(std::lround(h * s)));
    const Image scaled = resize_rgb(img, nw, nh);
    const Gray gray = to_gray(scaled);

    // Rounded as answered; the advice is decided on the answered values.
    const double blur = round_to(laplacian_variance(gray), 0.1);
    const double glare = round_to(glare_fraction(scaled), 0.0001);
    size_t dark_px = 0;
    for (uint8_t v : gray.px) dark_px += v < kDarkLevel;
    const double dark = round_to(static_cast<double>(dark_px) / static_cast<double>(gray.px.size()), 0.0001);

    const Thresholds& t = document ? kDocument : kSelfie;
    Json advice = Json::array();
    if (std::min(w, h) < t.min_side) advice.push(Json::string("too_small"));
    if (blur < t.blur_min) advice.push(Json::string("blurry"));
    if (glare > t.glare_max) advice.push(Json::string("glare"));
    if (dark > t.dark_max) advice.push(Json::string("too_dark"));

    Json out = Json::object();
    out.set("ok", Json::boolean(true));
    out.set("width", Json::number(w));
    out.set("height", Json::number(h));
    out.set("blur", Json::number(blur));
    out.set("glare", Json::number(glare));
    out.set("dark", Json::number(dark));
    out.set("advice", advice);
    return out;
}

}  // namespace idv
