// sigil-idv-engine: shared declarations (image buffers, JSON values, engine entry points).
// Privacy rule for every file: never write image bytes, decoded pixels or recognised text to
// stderr, to disk or anywhere but the JSON response on stdout.
#pragma once

#include <tesseract/capi.h>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace idv {

// Input limits (decoded bytes and pixel dimensions).
constexpr size_t kMaxImageBytes = 20u * 1024u * 1024u;
constexpr int kMaxDimension = 8000;

// An error answered as {"error": code}; exit_code is the one-shot process exit status.
struct EngineError {
    std::string code;
    int exit_code;
};

// 8-bit interleaved RGB image.
struct Image {
    int width = 0;
    int height = 0;
    std::vector<uint8_t> rgb;  // width * height * 3
};

// 8-bit grayscale image.
struct Gray {
    int width = 0;
    int height = 0;
    std::vector<uint8_t> px;  // width * height
    uint8_t at(int x, int y) const { return px[static_cast<size_t>(y) * width + x]; }
};

// ---- image.cpp
// Decodes JPEG, PNG, JPEG 2000 (JP2 box format or raw J2K codestream), detected by magic bytes.
// Throws EngineError: empty_image, unsupported_image_format, image_decode_failed, image_too_large.
Image decode_image(const std::vector<uint8_t>& bytes);
Gray to_gray(const Image& img);
// Rotates by `degrees` counter-clockwise (as seen on screen), canvas enlarged, fill = background.
Gray rotate_gray(const Gray& src, double degrees, uint8_t fill);
Gray resize_gray(const Gray& src, int new_w, int new_h);
Gray crop_gray(const Gray& src, int x, int y, int w, int h);

// ---- json.cpp: a small JSON value, parser and writer.
struct Json {
    enum class Type { Null, Bool, Number, String, Array, Object };
    Type type = Type::Null;
    bool b = false;
    double num = 0;
    std::string str;
    std::vector<Json> arr;
    std::vector<std::pair<std::string, Json>> obj;  // keeps insertion order

    Json() = default;
    static Json null() { return Json(); }
    static Json boolean(bool v) { Json j; j.type = Type::Bool; j.b = v; return j; }
    static Json number(double v) { Json j; j.type = Type::Number; j.num = v; return j; }
    static Json string(std::string v) { Json j; j.type = Type::String; j.str = std::move(v); return j; }
    static Json array() { Json j; j.type = Type::Array; return j; }
    static Json object() { Json j; j.type = Type::Object; return j; }

    Json& set(const std::string& k, Json v);  // object: add or replace
    Json& push(Json v) { arr.push_back(std::move(v)); return *this; }
    const Json* get(const std::string& k) const;
};
// Throws std::runtime_error on malformed input.
Json parse_json(const std::string& text);
std::string dump_json(const Json& j);

// ---- base64 (standard alphabet; padding optional; ASCII whitespace ignored)
// Throws EngineError bad_base64 / image_too_large.
std::vector<uint8_t> base64_decode(const std::string& s, size_t max_bytes);

// ---- face.cpp
struct FaceEngine;
struct FaceEngineDeleter { void operator()(FaceEngine*) const; };
bool face_models_present(const std::string& models_dir);
// Loads the models; throws EngineError engine_unavailable when a model is missing or unreadable.
std::unique_ptr<FaceEngine, FaceEngineDeleter> face_engine_load(const std::string& models_dir);
Json face_analyze(FaceEngine& engine, const Image& img, int upsample);
std::string dlib_version();

// ---- pdf417.cpp
Json pdf417_decode(const Gray& img, bool deskew);
std::string zxing_version();

// ---- mrz.cpp
// A tesseract instance (English, LSTM, no dictionaries, 300 dpi) limited to `whitelist`; nullptr
// when tesseract or its English data is unavailable. Shared by the MRZ and text ops.
TessBaseAPI* tesseract_open(const char* whitelist, TessPageSegMode psm);
struct MrzEngine;
struct MrzEngineDeleter { void operator()(MrzEngine*) const; };
// nullptr when tesseract or its English data is unavailable.
std::unique_ptr<MrzEngine, MrzEngineDeleter> mrz_engine_load();
Json mrz_read(MrzEngine& engine, const Gray& img);
std::string tesseract_version();
// Otsu's global threshold (0-255) of a grayscale image.
int otsu(const Gray& g);
// Small-angle deskew: the rotation within ±3° (0.5° steps) that maximises the variance of the
// row ink profile, applied (white fill) when at least 0.25°; else the image as given.
Gray deskew(const Gray& g);

// ---- text.cpp: the printed text of a card's front (tesseract, English, a separate instance).
struct TextEngine;
struct TextEngineDeleter { void operator()(TextEngine*) const; };
// nullptr when tesseract or its English data is unavailable.
std::unique_ptr<TextEngine, TextEngineDeleter> text_engine_load();
// {"ok":true,"lines":[…]}: the recognised lines, top to bottom.
Json text_read(TextEngine& engine, const Gray& img);

// ---- quality.cpp
// Capture quality: {"ok":true,"width","height","blur","glare","dark","advice":[…]}; `document`
// selects the minimum size (document 600 px, selfie 300 px on the shorter side).
Json quality_assess(const Image& img, bool document);

}  // namespace idv
