// The printed text of a card's front (a driving licence's name, dates and number), for Sigil to
// compare with what the barcode on the back says. tesseract's English LSTM model, without
// dictionaries (licence text is names, numbers and dates, not words), a whitelist of the
// characters a card prints. Steps:
//   1. grayscale; the longer side scaled to kWorkingSide (small captures enlarged, bilinear: on a
//      1012 px front the values' capitals become 35–58 px high; large ones reduced, area average);
//   2. deskew: the rotation within ±3° that sharpens the row ink profile (as for the MRZ);
//   3. tesseract page layout analysis with PSM_SPARSE_TEXT (labels and values scattered over the
//      card; measured against PSM_AUTO, docs/idv-engines.md "Text"), then each text line's
//      characters and box;
//   4. the lines sorted top to bottom (then left to right where two share a row), trimmed, runs
//      of spaces collapsed; lines with no letter or digit dropped.
// No field decoding: the Swift side looks for the barcode's values among the lines.
// Development switches for measurements only (not the contract): IDV_TEXT_PSM=3 (PSM_AUTO),
// IDV_TEXT_DESKEW=0 (no deskew).
#include <tesseract/capi.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>
#include <vector>

#include "common.hpp"

namespace idv {

namespace {

// The working image's longer side: an ID-1 card filling it is then about 600 dpi.
constexpr int kWorkingSide = 2000;

}  // namespace

struct TextEngine {
    TessBaseAPI* api = nullptr;
    ~TextEngine() {
        if (api) {
            TessBaseAPIEnd(api);
            TessBaseAPIDelete(api);
        }
    }
};

void TextEngineDeleter::operator()(TextEngine* e) const { delete e; }

std::unique_ptr<TextEngine, TextEngineDeleter> text_engine_load() {
    std::unique_ptr<TextEngine, TextEngineDeleter> e(new TextEngine());
    e->api = tesseract_open("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 /-.,:#'", tesseract::PSM_SPARSE_TEXT);
    if (!e->api) return nullptr;
    return e;
}

namespace {

struct Line {
    int left, top, right, bottom;
    std::string text;
};

std::string tidy(const char* raw) {
    std::string out;
    bool space = false;
    for (const char* p = raw; *p; ++p) {
        const unsigned char c = static_cast<unsigned char>(*p);
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            space = !out.empty();
            continue;
        }
        if (space) out += ' ';
        space = false;
        out += static_cast<char>(c);
    }
    return out;
}

bool has_alnum(const std::string& s) {
    return std::any_of(s.begin(), s.end(), [](unsigned char c) { return std::isalnum(c) != 0; });
}

}  // namespace

Json text_read(TextEngine& e, const Gray& img) {
    Json out = Json::object();
    out.set("ok", Json::boolean(true));
    Json lines_json = Json::array();
    if (img.width < 8 || img.height < 8) {
        out.set("lines", lines_json);
        return out;
    }
    Gray work = img;
    const int longest = std::max(img.width, img.height);
    if (longest != kWorkingSide) {
        const double s = static_cast<double>(kWorkingSide) / longest;
        const int nw = std::max(1, static_cast<int>(img.width * s + 0.5)), nh = std::max(1, static_cast<int>(img.height * s + 0.5));
        // A sliver (1 x 4000) stays as it is: enlarging it would only make a huge empty image.
        if (nw >= 8 && nh >= 8) work = resize_gray(img, nw, nh);
    }
    const char* deskew_env = std::getenv("IDV_TEXT_DESKEW");
    if (!(deskew_env && deskew_env[0] == '0')) work = deskew(work);
    const char* psm_env = std::getenv("IDV_TEXT_PSM");
    TessBaseAPISetPageSegMode(e.api, psm_env && psm_env[0] == '3' ? tesseract::PSM_AUTO : tesseract::PSM_SPARSE_TEXT);
    TessBaseAPISetImage(e.api, work.px.data(), work.width, work.height, 1, work.width);
    std::vector<Line> lines;
    if (TessBaseAPIRecognize(e.api, nullptr) == 0) {
        TessResultIterator* it = TessBaseAPIGetIterator(e.api);
        if (it) {
            do {
                char* t = TessResultIteratorGetUTF8Text(it, tesseract::RIL_TEXTLINE);
                if (!t) continue;
                Line l{};
                std::string s = tidy(t);
                TessDeleteText(t);
                if (!has_alnum(s)) continue;
                if (!TessPageIteratorBoundingBox(TessResultIteratorGetPageIteratorConst(it), tesseract::RIL_TEXTLINE, &l.left, &l.top,
                                                 &l.right, &l.bottom))
                    continue;
                l.text = std::move(s);
                lines.push_back(std::move(l));
            } while (TessResultIteratorNext(it, tesseract::RIL_TEXTLINE));
            TessResultIteratorDelete(it);
        }
    }
    TessBaseAPIClear(e.api);
    // Top to bottom by each line's vertical centre; lines whose centres lie within half the
    // smaller height of each other share a row and go left to right.
    std::sort(lines.begin(), lines.end(), [](const Line& a, const Line& b) { return a.top + a.bottom < b.top + b.bottom; });
    std::vector<Line> ordered;
    size_t i = 0;
    while (i < lines.size()) {
        size_t j = i + 1;
        while (j < lines.size()) {
            const Line& a = lines[j - 1];
            const Line& b = lines[j];
            const int h = std::min(a.bottom - a.top, b.bottom - b.top);
            if ((b.top + b.bottom) - (a.top + a.bottom) > h) break;  // centres differ by more than h / 2
            ++j;
        }
        std::sort(lines.begin() + i, lines.begin() + j, [](const Line& a, const Line& b) { return a.left < b.left; });
        for (size_t k = i; k < j; ++k) ordered.push_back(lines[k]);
        i = j;
    }
    for (const Line& l : ordered) lines_json.push(Json::string(l.text));
    out.set("lines", lines_json);
    return out;
}

}  // namespace idv
