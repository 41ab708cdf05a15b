// PDF417 decoding with zxing-cpp 1.4, with a deskew search: zxing's PDF417 reader fails once the
// symbol is tilted by about 4 degrees, so the image is rotated by 0, ±2, ±4 … ±20 degrees until a
// read succeeds (then ±1, ±3 … ±19). zxing's own tryRotate covers the quarter turns (90/180/270)
// at each angle. The reported rotation is the one applied to the image, counter-clockwise positive.
#define ZX_USE_UTF8 1
#include <ZXing/ReadBarcode.h>
#include <ZXing/ZXVersion.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "common.hpp"

namespace idv {

namespace {

bool try_read(const Gray& g, std::string& text, int& orientation) {
    ZXing::DecodeHints hints;
    hints.setFormats(ZXing::BarcodeFormat::PDF417);
    hints.setTryHarder(true);
    hints.setTryRotate(true);
    ZXing::ImageView view(g.px.data(), g.width, g.height, ZXing::ImageFormat::Lum);
    ZXing::Result r = ZXing::ReadBarcode(view, hints);
    if (!r.isValid()) return false;
    text = r.text();
    orientation = r.orientation();
    return true;
}

// zxing reports the symbol's orientation in whole degrees; only its quarter turn is a rotation
// that zxing applied (the residual tilt is what it tolerated).
int quarter_turn(int orientation) {
    int q = static_cast<int>(std::lround(orientation / 90.0)) * 90;
    return ((q % 360) + 360) % 360;
}

// Normalises an angle to (-180, 180].
double norm_deg(double a) {
    while (a > 180) a -= 360;
    while (a <= -180) a += 360;
    return a;
}

}  // namespace

Json pdf417_decode(const Gray& img, bool deskew) {
    Json out = Json::object();
    out.set("ok", Json::boolean(true));
    std::string text;
    int orientation = 0;
    if (try_read(img, text, orientation)) {
        out.set("found", Json::boolean(true));
        out.set("text", Json::string(text));
        out.set("rotation", Json::number(norm_deg(-quarter_turn(orientation))));
        return out;
    }
    if (deskew) {
        // Rotating a large photo 20 times is slow; the rotated attempts use a copy at most
        // 3000 pixels on its longer side (a PDF417 on a licence's back keeps enough modules).
        const Gray* base = &img;
        Gray small;
        const int longest = std::max(img.width, img.height);
        if (longest > 3000) {
            double s = 3000.0 / longest;
            small = resize_gray(img, std::max(1, static_cast<int>(img.width * s)), std::max(1, static_cast<int>(img.height * s)));
            base = &small;
        }
        // Even angles first (the usual ±2° tolerance of a read covers the odd ones), then the
        // odd angles for a symbol that needs a closer fit.
        std::vector<int> steps;
        for (int s = 2; s <= 20; s += 2) steps.push_back(s);
        for (int s = 1; s <= 19; s += 2) steps.push_back(s);
        for (int step : steps) {
            for (int sign : {1, -1}) {
                const double angle = sign * step;
                Gray rotated = rotate_gray(*base, angle, 255);
                if (try_read(rotated, text, orientation)) {
                    out.set("found", Json::boolean(true));
                    out.set("text", Json::string(text));
                    out.set("rotation", Json::number(norm_deg(angle - quarter_turn(orientation))));
                    return out;
                }
            }
        }
    }
    out.set("found", Json::boolean(false));
    return out;
}

std::string zxing_version() {
    return std::to_string(ZXING_VERSION_MAJOR) + "." + std::to_string(ZXING_VERSION_MINOR) + "." +
           std::to_string(ZXING_VERSION_PATCH);
}

}  // namespace idv
