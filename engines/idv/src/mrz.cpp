// MRZ text with tesseract's C API. No OCR-B model ships with Debian, so the English LSTM model
// reads the zone with a whitelist of the MRZ alphabet; the Swift side decodes fields with check
// digits. Steps:
//   1. candidate regions: the whole image when it is a wide band (width >= 3 x height), else
//      the bottom 35 % and the bottom 55 % of the page, then the whole image;
//   2. in a candidate: deskew (±3° search maximising the row-profile variance), Otsu binarise,
//      find text-line bands by row projection, keep the bottom-most run of up to three wide,
//      dense bands of similar height (the MRZ), crop it with a margin and scale it so a line is
//      about 48 pixels high;
//   3. OCR as one block (PSM 6) and keep lines of 30, 36 or 44 characters once spaces are removed.
// The first candidate giving two or more such lines wins; otherwise the one with the most.
#include <tesseract/capi.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <sstream>

#include "common.hpp"

namespace idv {

struct MrzEngine {
    TessBaseAPI* api = nullptr;
    ~MrzEngine() {
        if (api) {
            TessBaseAPIEnd(api);
            TessBaseAPIDelete(api);
        }
    }
};

void MrzEngineDeleter::operator()(MrzEngine* e) const { delete e; }

std::unique_ptr<MrzEngine, MrzEngineDeleter> mrz_engine_load() {
    std::unique_ptr<MrzEngine, MrzEngineDeleter> e(new MrzEngine());
    e->api = TessBaseAPICreate();
    if (!e->api) return nullptr;
    // Init-only parameters: no dictionaries (MRZ text is not words); quiet debug output.
    const char* names[] = {"load_system_dawg", "load_freq_dawg", "debug_file"};
    const char* values[] = {"0", "0", "/dev/null"};
    if (TessBaseAPIInit4(e->api, nullptr, "eng", tesseract::OEM_LSTM_ONLY, nullptr, 0, const_cast<char**>(names),
                         const_cast<char**>(values), 3, 0) != 0) {
        return nullptr;
    }
    TessBaseAPISetVariable(e->api, "tessedit_char_whitelist", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<");
    TessBaseAPISetVariable(e->api, "user_defined_dpi", "300");
    TessBaseAPISetPageSegMode(e->api, tesseract::PSM_SINGLE_BLOCK);
    return e;
}

namespace {

int otsu(const Gray& g) {
    std::array<double, 256> hist{};
    for (uint8_t v : g.px) hist[v] += 1;
    const double total = static_cast<double>(g.px.size());
    double sum = 0;
    for (int i = 0; i < 256; ++i) sum += i * hist[i];
    double sum_b = 0, w_b = 0, best = -1;
    int thr = 128;
    for (int t = 0; t < 256; ++t) {
        w_b += hist[t];
        if (w_b == 0) continue;
        double w_f = total - w_b;
        if (w_f == 0) break;
        sum_b += t * hist[t];
        double m_b = sum_b / w_b, m_f = (sum - sum_b) / w_f;
        double between = w_b * w_f * (m_b - m_f) * (m_b - m_f);
        if (between > best) { best = between; thr = t; }
    }
    return thr;
}

std::vector<int> row_profile(const Gray& g, int thr) {
    std::vector<int> rows(g.height, 0);
    for (int y = 0; y < g.height; ++y) {
        const uint8_t* r = &g.px[static_cast<size_t>(y) * g.width];
        int n = 0;
        for (int x = 0; x < g.width; ++x) n += r[x] <= thr;
        rows[y] = n;
    }
    return rows;
}

double profile_variance(const std::vector<int>& rows) {
    if (rows.empty()) return 0;
    double m = 0;
    for (int v : rows) m += v;
    m /= rows.size();
    double var = 0;
    for (int v : rows) var += (v - m) * (v - m);
    return var / rows.size();
}

// Small-angle deskew: the rotation that makes text rows sharpest in the row projection.
Gray deskew(const Gray& g) {
    // Estimate on a reduced copy (at most 800 px wide) for speed.
    Gray probe = g;
    if (g.width > 800) {
        double s = 800.0 / g.width;
        probe = resize_gray(g, 800, std::max(1, static_cast<int>(g.height * s)));
    }
    const int thr = otsu(probe);
    double best_angle = 0, best_score = -1;
    for (double a = -3.0; a <= 3.001; a += 0.5) {
        Gray r = rotate_gray(probe, a, 255);
        double score = profile_variance(row_profile(r, thr));
        if (score > best_score) { best_score = score; best_angle = a; }
    }
    if (std::fabs(best_angle) < 0.25) return g;
    return rotate_gray(g, best_angle, 255);
}

struct Band {
    int top, bottom;  // inclusive rows
    double coverage;  // fraction of columns that hold ink within the band
    int height() const { return bottom - top + 1; }
};

// Crops the bottom-most run of MRZ-like text bands; returns false when none is found.
bool locate_mrz(const Gray& g, Gray& out) {
    const int thr = otsu(g);
    std::vector<int> rows = row_profile(g, thr);
    const int min_ink = std::max(3, g.width / 50);
    std::vector<Band> bands;
    int y = 0;
    while (y < g.height) {
        if (rows[y] < min_ink) { ++y; continue; }
        int top = y;
        while (y < g.height && rows[y] >= min_ink) ++y;
        bands.push_back({top, y - 1, 0});
    }
    // Merge bands split by a one- or two-pixel gap.
    std::vector<Band> merged;
    for (const Band& b : bands) {
        if (!merged.empty() && b.top - merged.back().bottom <= 2) merged.back().bottom = b.bottom;
        else merged.push_back(b);
    }
    std::vector<Band> good;
    for (Band& b : merged) {
        if (b.height() < 6) continue;
        int cols = 0;
        const int need = std::max(1, b.height() / 8);
        for (int x = 0; x < g.width; ++x) {
            int n = 0;
            for (int yy = b.top; yy <= b.bottom; ++yy) n += g.at(x, yy) <= thr;
            cols += n >= need;
        }
        b.coverage = static_cast<double>(cols) / g.width;
        if (b.coverage >= 0.3 && b.height() <= g.height / 2) good.push_back(b);
    }
    if (good.empty()) return false;
    // Walk up from the bottom-most good band collecting neighbours of similar height.
    std::vector<Band> run{good.back()};
    for (int i = static_cast<int>(good.size()) - 2; i >= 0 && run.size() < 3; --i) {
        const Band& prev = run.back();
        const Band& b = good[i];
        double ratio = static_cast<double>(b.height()) / prev.height();
        if (ratio < 0.6 || ratio > 1.6 || prev.top - b.bottom > 2.5 * prev.height()) break;
        run.push_back(b);
    }
    int top = run.back().top, bottom = run.front().bottom;
    int line_h = 0;
    for (const Band& b : run) line_h = std::max(line_h, b.height());
    int margin = line_h;
    out = crop_gray(g, 0, std::max(0, top - margin), g.width, std::min(g.height, bottom + margin + 1) - std::max(0, top - margin));
    // Scale so a text line is about 48 px high (tesseract reads best around that size).
    double scale = 48.0 / line_h;
    if (scale > 1.25 || scale < 0.8) {
        int nw = static_cast<int>(out.width * scale), nh = static_cast<int>(out.height * scale);
        if (nw >= 1 && nh >= 1 && static_cast<double>(nw) * nh <= 40e6) out = resize_gray(out, nw, nh);
    }
    return true;
}

// A white border helps tesseract with text that touches the crop's edge.
Gray pad(const Gray& g, int border) {
    Gray out;
    out.width = g.width + 2 * border;
    out.height = g.height + 2 * border;
    out.px.assign(static_cast<size_t>(out.width) * out.height, 255);
    for (int y = 0; y < g.height; ++y)
        std::memcpy(&out.px[static_cast<size_t>(y + border) * out.width + border], &g.px[static_cast<size_t>(y) * g.width], g.width);
    return out;
}

struct Reading {
    std::vector<std::string> lines;
    double confidence = 0;
};

Reading ocr(MrzEngine& e, const Gray& region) {
    Reading r;
    if (region.width < 8 || region.height < 8) return r;
    Gray g = pad(region, 20);
    TessBaseAPISetImage(e.api, g.px.data(), g.width, g.height, 1, g.width);
    char* text = TessBaseAPIGetUTF8Text(e.api);
    if (!text) return r;
    r.confidence = std::max(0, TessBaseAPIMeanTextConf(e.api)) / 100.0;
    std::istringstream in(text);
    TessDeleteText(text);
    std::string line;
    while (std::getline(in, line)) {
        std::string compact;
        for (char c : line)
            if (c != ' ' && c != '\r' && c != '\t') compact += c;
        if (compact.size() == 30 || compact.size() == 36 || compact.size() == 44) r.lines.push_back(compact);
    }
    TessBaseAPIClear(e.api);
    return r;
}

}  // namespace

Json mrz_read(MrzEngine& e, const Gray& img) {
    std::vector<Gray> candidates;
    if (img.width >= 3 * img.height) {
        candidates.push_back(img);
    } else {
        for (double frac : {0.35, 0.55}) {
            int h = std::max(1, static_cast<int>(img.height * frac));
            candidates.push_back(crop_gray(img, 0, img.height - h, img.width, h));
        }
        candidates.push_back(img);
    }
    Reading best;
    for (const Gray& cand : candidates) {
        Gray straight = deskew(cand);
        Gray region;
        if (!locate_mrz(straight, region)) region = straight;
        Reading r = ocr(e, region);
        if (r.lines.size() > best.lines.size() || (r.lines.size() == best.lines.size() && r.confidence > best.confidence))
            best = r;
        if (best.lines.size() >= 2) break;
    }
    Json out = Json::object();
    out.set("ok", Json::boolean(true));
    Json lines = Json::array();
    for (const auto& l : best.lines) lines.push(Json::string(l));
    out.set("lines", lines);
    out.set("confidence", Json::number(best.confidence));
    return out;
}

std::string tesseract_version() { return TessVersion(); }

}  // namespace idv
