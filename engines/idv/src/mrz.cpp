// MRZ text with tesseract's C API. No OCR-B model ships with Debian, so the English LSTM model
// reads with a whitelist of the MRZ alphabet, and the engine makes up for what it gets wrong;
// the Swift side decodes fields with check digits. Steps:
//   1. candidate regions: the whole image when it is a wide band (width >= 3 x height), else
//      the bottom 35 % and the bottom 55 % of the page, then the whole image;
//   2. in a candidate: deskew (±3° search maximising the row-profile variance), Otsu binarise,
//      find text-line bands by row projection, keep the bottom-most run of up to three wide,
//      dense bands of similar height (the MRZ);
//   3. OCR each line alone (PSM 7) scaled to ~48 px text height, with per-character boxes;
//   4. place the characters on the line's fixed-pitch cells (MRZ text is monospaced; the line
//      length comes from the line count and the ink width over the character pitch); an empty
//      cell is a filler '<';
//   5. repair the model's confusions (fillers read as K/E/S/X, clear look-alikes) with templates
//      of the characters this zone shows with high confidence.
// Without bands (step 2), the region is OCRed as one block (PSM 6) and lines of MRZ length kept.
// The first candidate giving two or more lines wins; otherwise the one with the most.
#include <tesseract/capi.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
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

TessBaseAPI* tesseract_open(const char* whitelist, TessPageSegMode psm) {
    TessBaseAPI* api = TessBaseAPICreate();
    if (!api) return nullptr;
    // Init-only parameters: no dictionaries (MRZ and card text are not words); quiet debug output.
    const char* names[] = {"load_system_dawg", "load_freq_dawg", "debug_file"};
    const char* values[] = {"0", "0", "/dev/null"};
    if (TessBaseAPIInit4(api, nullptr, "eng", tesseract::OEM_LSTM_ONLY, nullptr, 0, const_cast<char**>(names),
                         const_cast<char**>(values), 3, 0) != 0) {
        TessBaseAPIDelete(api);
        return nullptr;
    }
    TessBaseAPISetVariable(api, "tessedit_char_whitelist", whitelist);
    TessBaseAPISetVariable(api, "user_defined_dpi", "300");
    TessBaseAPISetPageSegMode(api, psm);
    return api;
}

std::unique_ptr<MrzEngine, MrzEngineDeleter> mrz_engine_load() {
    std::unique_ptr<MrzEngine, MrzEngineDeleter> e(new MrzEngine());
    e->api = tesseract_open("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<", tesseract::PSM_SINGLE_BLOCK);
    if (!e->api) return nullptr;
    return e;
}

// Otsu's threshold and the small-angle deskew are shared with the text op (common.hpp).
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

static std::vector<int> row_profile(const Gray& g, int thr) {
    std::vector<int> rows(g.height, 0);
    for (int y = 0; y < g.height; ++y) {
        const uint8_t* r = &g.px[static_cast<size_t>(y) * g.width];
        int n = 0;
        for (int x = 0; x < g.width; ++x) n += r[x] <= thr;
        rows[y] = n;
    }
    return rows;
}

static double profile_variance(const std::vector<int>& rows) {
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

namespace {

struct Band {
    int top, bottom;  // inclusive rows
    double coverage;  // fraction of columns that hold ink within the band
    int height() const { return bottom - top + 1; }
};

// Finds the bottom-most run of up to three MRZ-like text bands (wide, dense, similar height),
// top to bottom; empty when there is none.
std::vector<Band> locate_mrz(const Gray& g) {
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
    std::vector<Band> run;
    if (good.empty()) return run;
    run.push_back(good.back());
    for (int i = static_cast<int>(good.size()) - 2; i >= 0 && run.size() < 3; --i) {
        const Band& prev = run.back();
        const Band& b = good[i];
        double ratio = static_cast<double>(b.height()) / prev.height();
        if (ratio < 0.6 || ratio > 1.6 || prev.top - b.bottom > 2.5 * prev.height()) break;
        run.push_back(b);
    }
    std::reverse(run.begin(), run.end());
    return run;
}

// The band's rows with a margin, scaled so the text is about 48 px high; text_top/text_bottom
// receive the band's own rows in the returned image.
Gray band_image(const Gray& g, const Band& b, int& text_top, int& text_bottom) {
    const int margin = std::max(2, b.height() * 2 / 5);
    const int top = std::max(0, b.top - margin), bottom = std::min(g.height - 1, b.bottom + margin);
    Gray out = crop_gray(g, 0, top, g.width, bottom - top + 1);
    double scale = 48.0 / b.height();
    const int nw = static_cast<int>(out.width * scale), nh = static_cast<int>(out.height * scale);
    if ((scale > 1.1 || scale < 0.9) && nw >= 1 && nh >= 1 && static_cast<double>(nw) * nh <= 40e6) {
        out = resize_gray(out, nw, nh);
    } else {
        scale = 1.0;
    }
    text_top = static_cast<int>((b.top - top) * scale);
    text_bottom = std::min(out.height - 1, static_cast<int>((b.bottom - top + 1) * scale));
    return out;
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
    std::string raw;  // debugging only (IDV_DEBUG_RAW), never logged
};

bool is_mrz_length(size_t n) { return n == 30 || n == 36 || n == 44; }

// Whole-region OCR as one block; keeps the lines of MRZ length.
Reading ocr_block(MrzEngine& e, const Gray& region) {
    Reading r;
    if (region.width < 8 || region.height < 8) return r;
    Gray g = pad(region, 20);
    TessBaseAPISetPageSegMode(e.api, tesseract::PSM_SINGLE_BLOCK);
    TessBaseAPISetImage(e.api, g.px.data(), g.width, g.height, 1, g.width);
    char* text = TessBaseAPIGetUTF8Text(e.api);
    if (!text) return r;
    r.confidence = std::max(0, TessBaseAPIMeanTextConf(e.api)) / 100.0;
    if (std::getenv("IDV_DEBUG_RAW")) r.raw = text;
    std::istringstream in(text);
    TessDeleteText(text);
    std::string line;
    while (std::getline(in, line)) {
        std::string compact;
        for (char c : line)
            if (c != ' ' && c != '\r' && c != '\t') compact += c;
        if (is_mrz_length(compact.size())) r.lines.push_back(compact);
    }
    TessBaseAPIClear(e.api);
    return r;
}

struct Symbol {
    char c;
    float conf;
    double cx;  // horizontal centre in the band image
};

struct LineRead {
    Gray band;  // the line's image as OCRed (without the white border)
    int text_top = 0, text_bottom = 0;  // the text's rows in band
    std::vector<Symbol> symbols;
    int ink_left = 0, ink_right = 0;  // horizontal extent of the printed line
};

// A line placed on its cells: the text, each cell's confidence (-1: nothing read) and geometry.
struct CellLine {
    std::string text;
    std::vector<float> conf;
    double left = 0, pitch = 1;
    const Gray* band = nullptr;
    int thr = 128;  // the band's ink threshold
    int text_top = 0, text_bottom = 0;
};

// OCR of one text line (PSM 7), with each recognised character's position.
LineRead ocr_line(MrzEngine& e, const Gray& band) {
    LineRead lr;
    lr.band = band;
    const int border = 20;
    Gray g = pad(band, border);
    TessBaseAPISetPageSegMode(e.api, tesseract::PSM_SINGLE_LINE);
    TessBaseAPISetImage(e.api, g.px.data(), g.width, g.height, 1, g.width);
    if (TessBaseAPIRecognize(e.api, nullptr) != 0) return lr;
    TessResultIterator* it = TessBaseAPIGetIterator(e.api);
    if (it) {
        do {
            char* t = TessResultIteratorGetUTF8Text(it, tesseract::RIL_SYMBOL);
            if (!t) continue;
            int x1, y1, x2, y2;
            if (t[0] && !t[1] &&
                TessPageIteratorBoundingBox(TessResultIteratorGetPageIteratorConst(it), tesseract::RIL_SYMBOL, &x1, &y1, &x2, &y2)) {
                lr.symbols.push_back({t[0], TessResultIteratorConfidence(it, tesseract::RIL_SYMBOL), (x1 + x2) / 2.0 - border});
            }
            TessDeleteText(t);
        } while (TessResultIteratorNext(it, tesseract::RIL_SYMBOL));
        TessResultIteratorDelete(it);
    }
    TessBaseAPIClear(e.api);
    // Ink extent: columns holding dark pixels over a tenth of the text height.
    const int thr = otsu(band);
    const int need = std::max(2, band.height / 12);
    lr.ink_left = band.width;
    lr.ink_right = -1;
    for (int x = 0; x < band.width; ++x) {
        int n = 0;
        for (int y = 0; y < band.height; ++y) n += band.at(x, y) <= thr;
        if (n >= need) {
            lr.ink_left = std::min(lr.ink_left, x);
            lr.ink_right = x;
        }
    }
    return lr;
}

// Places the recognised characters on the line's N fixed-pitch cells (MRZ text is monospaced):
// a cell read twice keeps the more confident character, a cell nothing was read in is a filler
// '<' (tesseract's usual loss is inside runs of fillers). The pitch comes from the ink extent
// and is refined by a least-squares fit of the characters' centres to their cells.
CellLine place_on_cells(const LineRead& lr, int n) {
    double left = lr.ink_left;
    double pitch = static_cast<double>(lr.ink_right - lr.ink_left + 1) / n;
    std::vector<int> cell(lr.symbols.size());
    // tesseract's boxes inside runs of fillers are loose: fit on the confident characters.
    int confident = 0;
    for (const Symbol& s : lr.symbols) confident += s.conf >= 90;
    const float min_conf = confident >= 8 ? 90.0f : 50.0f;
    for (int iter = 0; iter < 3; ++iter) {
        double sx = 0, sy = 0, sxx = 0, sxy = 0;
        int m = 0;
        for (size_t i = 0; i < lr.symbols.size(); ++i) {
            cell[i] = std::clamp(static_cast<int>(std::floor((lr.symbols[i].cx - left) / pitch)), 0, n - 1);
            if (lr.symbols[i].conf < min_conf) continue;
            double x = cell[i] + 0.5, y = lr.symbols[i].cx;
            sx += x; sy += y; sxx += x * x; sxy += x * y;
            ++m;
        }
        if (m < 5) break;
        double den = m * sxx - sx * sx;
        if (std::fabs(den) < 1e-9) break;
        double b = (m * sxy - sx * sy) / den;
        double a = (sy - b * sx) / m;
        if (b < 0.8 * pitch || b > 1.25 * pitch) break;
        pitch = b;
        left = a;
    }
    std::string out(n, '<');
    std::vector<float> best(n, -1);
    for (size_t i = 0; i < lr.symbols.size(); ++i) {
        int c = std::clamp(static_cast<int>(std::floor((lr.symbols[i].cx - left) / pitch)), 0, n - 1);
        if (lr.symbols[i].conf > best[c]) {
            best[c] = lr.symbols[i].conf;
            out[c] = lr.symbols[i].c;
        }
    }
    CellLine cl;
    cl.text = out;
    cl.conf = best;
    cl.left = left;
    cl.pitch = pitch;
    cl.band = &lr.band;
    cl.thr = otsu(lr.band);
    cl.text_top = lr.text_top;
    cl.text_bottom = lr.text_bottom;
    return cl;
}

// A cell's pixels resampled to a fixed 12x20 grid, zero mean and unit norm (for correlation).
constexpr int kCellW = 12, kCellH = 20;
std::vector<double> cell_vector(const CellLine& cl, int c, double shift = 0) {
    const Gray& b = *cl.band;
    std::vector<double> v(kCellW * kCellH, 0.0);
    const double x0 = cl.left + (c + shift) * cl.pitch;
    const int xa = std::clamp(static_cast<int>(x0), 0, b.width - 1);
    const int xb = std::clamp(static_cast<int>(x0 + cl.pitch), 0, b.width - 1);
    // Vertically, the cell's own ink rows (lines are scaled by their band height, which a
    // descender changes, so the cell's extent is the stable frame).
    int ya = -1, yb = -1;
    const int y_from = std::max(0, cl.text_top - 2), y_to = std::min(b.height - 1, cl.text_bottom + 2);
    for (int y = y_from; y <= y_to; ++y) {
        for (int x = xa; x <= xb; ++x) {
            if (b.at(x, y) <= cl.thr) {
                if (ya < 0) ya = y;
                yb = y;
                break;
            }
        }
    }
    if (ya < 0) { ya = y_from; yb = y_to; }
    const double h = yb - ya + 1;
    for (int j = 0; j < kCellH; ++j) {
        const int y = std::clamp(static_cast<int>(ya + (j + 0.5) * h / kCellH), 0, b.height - 1);
        for (int i = 0; i < kCellW; ++i) {
            const int x = std::clamp(static_cast<int>(x0 + (i + 0.5) * cl.pitch / kCellW), 0, b.width - 1);
            v[j * kCellW + i] = 255.0 - b.at(x, y);
        }
    }
    double mean = 0;
    for (double d : v) mean += d;
    mean /= v.size();
    double norm = 0;
    for (double& d : v) { d -= mean; norm += d * d; }
    norm = std::sqrt(norm);
    if (norm > 1e-9)
        for (double& d : v) d /= norm;
    return v;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
    double s = 0;
    for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
    return s;
}

// Character pairs that tesseract's English model confuses in an MRZ: the filler '<' read as K,
// E, S or X, and OCR-B look-alikes. The zone itself shows how each character looks in this very
// image: a character's template is the mean of its cells read with high confidence, and a cell is
// relabelled when it matches the template of a character it is often confused with at least as
// well as that character's own confident cells do, and better than its own reading's template
// (built without the cell itself).
struct Templates {
    std::map<char, std::vector<double>> sum;
    std::map<char, int> count;
    std::map<char, double> bar;  // how well the character's own confident cells match
};

std::vector<double> normalised(std::vector<double> v) {
    double n = std::sqrt(dot(v, v));
    if (n > 1e-9)
        for (double& d : v) d /= n;
    return v;
}

void repair_confusions(std::vector<CellLine>& lines, std::string* debug) {
    static const std::map<char, std::string> kConfusable = {
        {'K', "<"}, {'E', "<"}, {'S', "<5"}, {'X', "<"}, {'O', "0D"}, {'0', "OD"}, {'D', "0O"},
        {'I', "1"}, {'1', "I"}, {'B', "8"}, {'8', "B"}, {'5', "S"}, {'Z', "2"}, {'2', "Z"},
        {'G', "6"}, {'6', "G"}};
    std::vector<std::vector<std::vector<double>>> vecs(lines.size());
    Templates t;
    for (size_t l = 0; l < lines.size(); ++l) {
        const CellLine& cl = lines[l];
        for (size_t c = 0; c < cl.text.size(); ++c) {
            vecs[l].push_back(cell_vector(cl, static_cast<int>(c)));
            if (cl.conf[c] < 90) continue;
            auto& s = t.sum[cl.text[c]];
            if (s.empty()) s.assign(kCellW * kCellH, 0.0);
            for (size_t i = 0; i < s.size(); ++i) s[i] += vecs[l][c][i];
            ++t.count[cl.text[c]];
        }
    }
    for (const auto& kv : t.sum) {
        if (t.count[kv.first] < 2) continue;
        std::vector<double> tm = normalised(kv.second);
        std::vector<double> own;
        for (size_t l = 0; l < lines.size(); ++l)
            for (size_t c = 0; c < lines[l].text.size(); ++c)
                if (lines[l].text[c] == kv.first && lines[l].conf[c] >= 90) own.push_back(dot(vecs[l][c], tm));
        std::sort(own.begin(), own.end());
        t.bar[kv.first] = std::clamp(own[own.size() / 10] - 0.05, 0.75, 0.85);
    }
    auto template_without = [&](char ch, const std::vector<double>& cell, bool exclude) -> std::vector<double> {
        auto it = t.sum.find(ch);
        if (it == t.sum.end()) return {};
        int n = t.count[ch] - (exclude ? 1 : 0);
        if (n < 2) return {};
        std::vector<double> s = it->second;
        if (exclude)
            for (size_t i = 0; i < s.size(); ++i) s[i] -= cell[i];
        return normalised(s);
    };
    for (size_t l = 0; l < lines.size(); ++l) {
        CellLine& cl = lines[l];
        for (size_t c = 0; c < cl.text.size(); ++c) {
            const char read = cl.text[c];
            auto conf_it = kConfusable.find(read);
            if (cl.conf[c] < 0 || conf_it == kConfusable.end()) continue;
            const std::vector<double>& v = vecs[l][c];
            std::vector<double> own_t = template_without(read, v, cl.conf[c] >= 90);
            const double own = own_t.empty() ? -1 : dot(v, own_t);
            char best = read;
            double best_corr = own;
            for (char alt : conf_it->second) {
                auto bar = t.bar.find(alt);
                if (bar == t.bar.end()) continue;
                const std::vector<double> tm = template_without(alt, v, false);
                double corr = dot(v, tm);
                if (alt == '<') {
                    // The cell grid can drift by a fraction of a cell where fillers were read
                    // loosely: look a third of a cell either side.
                    for (double sh : {-0.3, -0.2, -0.1, 0.1, 0.2, 0.3})
                        corr = std::max(corr, dot(cell_vector(cl, static_cast<int>(c), sh), tm));
                }
                if (debug) *debug += std::string(1, read) + "~" + alt + " " + std::to_string(corr).substr(0, 4) + "/" + std::to_string(bar->second).substr(0, 4) + " ";
                if (corr < bar->second) continue;
                if (alt == '<') {
                    // The filler's chevron is unlike any letter: matching the filler template is
                    // enough (a K template may itself be made of misread fillers).
                    best = alt;
                    break;
                }
                // Look-alikes (O/0, I/1 …) correlate highly with each other: relabel only when the
                // reading's own template exists and matches clearly worse.
                if (own >= 0 && corr > own + 0.02 && corr > best_corr) { best = alt; best_corr = corr; }
            }
            if (debug && best != read)
                *debug += std::string(1, read) + "->" + best + " " + std::to_string(best_corr).substr(0, 4) + " own " +
                          std::to_string(own).substr(0, 4) + "; ";
            cl.text[c] = best;
        }
    }
}

Reading ocr_lines(MrzEngine& e, const Gray& g, const std::vector<Band>& run) {
    Reading r;
    std::vector<LineRead> reads;
    std::vector<double> cells;  // per line: ink width / median distance between characters
    for (const Band& b : run) {
        int text_top = 0, text_bottom = 0;
        Gray band = band_image(g, b, text_top, text_bottom);
        reads.push_back(ocr_line(e, band));
        reads.back().text_top = text_top;
        reads.back().text_bottom = text_bottom;
        const LineRead& lr = reads.back();
        std::vector<double> gaps;
        for (size_t i = 1; i < lr.symbols.size(); ++i) {
            double d = lr.symbols[i].cx - lr.symbols[i - 1].cx;
            if (d > 0) gaps.push_back(d);
        }
        if (gaps.size() >= 4 && lr.ink_right > lr.ink_left) {
            std::nth_element(gaps.begin(), gaps.begin() + gaps.size() / 2, gaps.end());
            cells.push_back((lr.ink_right - lr.ink_left + 1) / gaps[gaps.size() / 2]);
        }
    }
    // The line length: three lines are TD1 (30); otherwise the MRZ length nearest the number of
    // character cells the lines span (two lines: TD2 36 or TD3 44).
    int n = 30;
    if (run.size() != 3 && !cells.empty()) {
        std::sort(cells.begin(), cells.end());
        const double est = cells[cells.size() / 2];
        double best = 1e9;
        for (int cand : {30, 36, 44}) {
            if (run.size() == 2 && cand == 30) continue;
            if (std::fabs(est - cand) < best) { best = std::fabs(est - cand); n = cand; }
        }
    }
    double conf_sum = 0;
    int conf_n = 0;
    std::vector<CellLine> placed;
    for (const LineRead& lr : reads) {
        if (std::getenv("IDV_DEBUG_RAW")) {
            for (const Symbol& s : lr.symbols) {
                r.raw += s.c;
                r.raw += "(" + std::to_string(static_cast<int>(s.conf)) + "," + std::to_string(static_cast<int>(s.cx)) + ") ";
            }
            r.raw += " ink " + std::to_string(lr.ink_left) + "-" + std::to_string(lr.ink_right) + "\n";
        }
        // A line where fewer than 60 % of the cells were read is not taken for MRZ text.
        if (lr.ink_right <= lr.ink_left || lr.symbols.size() < 0.6 * n || lr.symbols.size() > 1.3 * n) continue;
        placed.push_back(place_on_cells(lr, n));
        for (const Symbol& s : lr.symbols) { conf_sum += s.conf; ++conf_n; }
    }
    repair_confusions(placed, std::getenv("IDV_DEBUG_RAW") ? &r.raw : nullptr);
    for (const CellLine& cl : placed) r.lines.push_back(cl.text);
    r.confidence = conf_n ? conf_sum / conf_n / 100.0 : 0;
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
        std::vector<Band> run = locate_mrz(straight);
        Reading r = run.empty() ? ocr_block(e, straight) : ocr_lines(e, straight, run);
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
    if (std::getenv("IDV_DEBUG_RAW")) out.set("raw", Json::string(best.raw));
    return out;
}

std::string tesseract_version() { return TessVersion(); }

}  // namespace idv
