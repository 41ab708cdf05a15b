// sigil-idv-engine: Sigil's identity-verification engine (faces, PDF417, MRZ, a card's printed text,
// capture quality), driven by JSON.
//
//   sigil-idv-engine          one JSON request on stdin, one JSON response on stdout
//   sigil-idv-engine --serve  newline-delimited requests and responses; models load once
//
// Exit status (one-shot mode): 0 for an {"ok":true,…} answer, 1 for a request that cannot be
// served as given (malformed JSON, missing field, bad base64, undecodable or too large image),
// 2 for an unknown op, 3 for an engine failure (missing models, internal error). Errors are
// answered as {"error":"<code>"} on stdout. Nothing derived from an image is written to stderr.
#include <unistd.h>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#include "common.hpp"

namespace idv {
namespace {

// Largest request accepted: a 20 MB image in base64 plus room for the rest of the JSON.
constexpr size_t kMaxRequestBytes = kMaxImageBytes / 3 * 4 + 64 * 1024;

std::string models_dir() {
    const char* env = std::getenv("SIGIL_IDV_MODELS");
    if (env && *env) return env;
    char buf[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return "models";
    std::string exe(buf, static_cast<size_t>(n));
    size_t slash = exe.rfind('/');
    return (slash == std::string::npos ? std::string(".") : exe.substr(0, slash)) + "/models";
}

Json error_json(const std::string& code) {
    Json j = Json::object();
    j.set("error", Json::string(code));
    return j;
}

struct State {
    std::string models = models_dir();
    std::unique_ptr<FaceEngine, FaceEngineDeleter> face;
    bool mrz_tried = false;
    std::unique_ptr<MrzEngine, MrzEngineDeleter> mrz;
    bool text_tried = false;
    std::unique_ptr<TextEngine, TextEngineDeleter> text;

    FaceEngine& face_engine() {
        if (!face) face = face_engine_load(models);
        return *face;
    }
    MrzEngine* mrz_engine() {
        if (!mrz_tried) {
            mrz_tried = true;
            mrz = mrz_engine_load();
        }
        return mrz.get();
    }
    TextEngine* text_engine() {
        if (!text_tried) {
            text_tried = true;
            text = text_engine_load();
        }
        return text.get();
    }
};

Image request_image(const Json& req) {
    const Json* im = req.get("image");
    if (!im || im->type != Json::Type::String) throw EngineError{"bad_request", 1};
    return decode_image(base64_decode(im->str, kMaxImageBytes));
}

Json handle(State& st, const Json& req) {
    if (req.type != Json::Type::Object) throw EngineError{"bad_request", 1};
    const Json* op = req.get("op");
    if (!op || op->type != Json::Type::String) throw EngineError{"bad_request", 1};
    if (op->str == "capabilities") {
        Json out = Json::object();
        out.set("ok", Json::boolean(true));
        out.set("face", Json::boolean(st.face ? true : face_models_present(st.models)));
        out.set("pdf417", Json::boolean(true));
        out.set("mrz", Json::boolean(st.mrz_engine() != nullptr));
        out.set("quality", Json::boolean(true));
        out.set("text", Json::boolean(st.text_engine() != nullptr));
        Json v = Json::object();
        v.set("dlib", Json::string(dlib_version()));
        v.set("zxing", Json::string(zxing_version()));
        v.set("tesseract", Json::string(tesseract_version()));
        out.set("versions", v);
        out.set("models", Json::string(st.models));
        return out;
    }
    if (op->str == "face") {
        int upsample = 1;
        if (const Json* u = req.get("upsample")) {
            if (u->type != Json::Type::Number) throw EngineError{"bad_request", 1};
            upsample = static_cast<int>(std::max(0.0, std::min(3.0, u->num)));
        }
        FaceEngine& engine = st.face_engine();  // before decoding: a missing model is reported first
        return face_analyze(engine, request_image(req), upsample);
    }
    if (op->str == "pdf417") {
        bool deskew = true;
        if (const Json* d = req.get("deskew")) {
            if (d->type != Json::Type::Bool) throw EngineError{"bad_request", 1};
            deskew = d->b;
        }
        return pdf417_decode(to_gray(request_image(req)), deskew);
    }
    if (op->str == "mrz") {
        MrzEngine* engine = st.mrz_engine();
        if (!engine) throw EngineError{"engine_unavailable", 3};
        return mrz_read(*engine, to_gray(request_image(req)));
    }
    if (op->str == "text") {
        TextEngine* engine = st.text_engine();
        if (!engine) throw EngineError{"engine_unavailable", 3};
        return text_read(*engine, to_gray(request_image(req)));
    }
    if (op->str == "quality") {
        const Json* kind = req.get("kind");
        if (!kind || kind->type != Json::Type::String || (kind->str != "document" && kind->str != "selfie"))
            throw EngineError{"bad_request", 1};
        return quality_assess(request_image(req), kind->str == "document");
    }
    throw EngineError{"unknown_op", 2};
}

// Answers one request text; returns the exit status it would have in one-shot mode.
int answer(State& st, const std::string& text, std::string& response) {
    try {
        Json req;
        try {
            req = parse_json(text);
        } catch (const std::runtime_error&) {
            throw EngineError{"bad_request", 1};
        }
        response = dump_json(handle(st, req));
        return 0;
    } catch (const EngineError& e) {
        response = dump_json(error_json(e.code));
        return e.exit_code;
    } catch (const std::bad_alloc&) {
        response = dump_json(error_json("out_of_memory"));
        return 3;
    } catch (...) {
        response = dump_json(error_json("internal_error"));
        return 3;
    }
}

void write_line(const std::string& s) {
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

int run_once(State& st) {
    std::string text;
    char buf[65536];
    size_t n;
    bool too_large = false;
    while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) {
        if (text.size() + n > kMaxRequestBytes) {
            too_large = true;
            break;
        }
        text.append(buf, n);
    }
    if (too_large) {
        write_line(dump_json(error_json("image_too_large")));
        return 1;
    }
    std::string response;
    int rc = answer(st, text, response);
    write_line(response);
    return rc;
}

int run_serve(State& st) {
    std::string line;
    bool overflow = false;
    char buf[65536];
    size_t n;
    auto finish = [&]() {
        if (overflow) {
            write_line(dump_json(error_json("image_too_large")));
        } else if (line.find_first_not_of(" \t\r") != std::string::npos) {
            std::string response;
            answer(st, line, response);
            write_line(response);
        }
        line.clear();
        overflow = false;
    };
    // read(2), not fread: a request must be answered as soon as its line arrives.
    ssize_t got;
    while ((got = ::read(STDIN_FILENO, buf, sizeof buf)) != 0) {
        if (got < 0) {
            if (errno == EINTR) continue;
            break;
        }
        n = static_cast<size_t>(got);
        size_t start = 0;
        for (size_t i = 0; i < n; ++i) {
            if (buf[i] != '\n') continue;
            if (!overflow) line.append(buf + start, i - start);
            if (line.size() > kMaxRequestBytes) { overflow = true; line.clear(); }
            finish();
            start = i + 1;
        }
        if (!overflow) {
            line.append(buf + start, n - start);
            if (line.size() > kMaxRequestBytes) {
                overflow = true;
                line.clear();
                line.shrink_to_fit();
            }
        }
    }
    if (overflow || !line.empty()) finish();
    return 0;
}

}  // namespace
}  // namespace idv

int main(int argc, char** argv) {
    idv::State st;
    if (argc == 2 && std::strcmp(argv[1], "--serve") == 0) return idv::run_serve(st);
    if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
        std::puts("usage: sigil-idv-engine [--serve]  (JSON request on stdin; see docs/idv-engines.md)");
        return 0;
    }
    if (argc != 1) {
        std::fputs("usage: sigil-idv-engine [--serve]\n", stderr);
        return 1;
    }
    return idv::run_once(st);
}
