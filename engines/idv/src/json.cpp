// Minimal JSON (RFC 8259) parser and writer, and a base64 decoder, for the engine's protocol.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "common.hpp"

namespace idv {

Json& Json::set(const std::string& k, Json v) {
    type = Type::Object;
    for (auto& kv : obj) {
        if (kv.first == k) { kv.second = std::move(v); return *this; }
    }
    obj.emplace_back(k, std::move(v));
    return *this;
}

const Json* Json::get(const std::string& k) const {
    if (type != Type::Object) return nullptr;
    for (const auto& kv : obj) {
        if (kv.first == k) return &kv.second;
    }
    return nullptr;
}

namespace {

struct Parser {
    const std::string& s;
    size_t i = 0;
    int depth = 0;

    [[noreturn]] void fail(const char* what) { throw std::runtime_error(what); }

    void ws() {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
    }

    bool lit(const char* word) {
        size_t n = std::char_traits<char>::length(word);
        if (s.compare(i, n, word) == 0) { i += n; return true; }
        return false;
    }

    static void put_utf8(std::string& out, uint32_t cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    uint32_t hex4() {
        if (i + 4 > s.size()) fail("bad escape");
        uint32_t v = 0;
        for (int k = 0; k < 4; ++k) {
            char c = s[i++];
            v <<= 4;
            if (c >= '0' && c <= '9') v |= c - '0';
            else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
            else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
            else fail("bad escape");
        }
        return v;
    }

    std::string string_body() {
        // s[i] == '"'
        ++i;
        std::string out;
        for (;;) {
            if (i >= s.size()) fail("unterminated string");
            char c = s[i++];
            if (c == '"') break;
            if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
            if (c != '\\') { out += c; continue; }
            if (i >= s.size()) fail("bad escape");
            char e = s[i++];
            switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    uint32_t cp = hex4();
                    if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= s.size() && s[i] == '\\' && s[i + 1] == 'u') {
                        size_t save = i;
                        i += 2;
                        uint32_t lo = hex4();
                        if (lo >= 0xDC00 && lo <= 0xDFFF) cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        else i = save;
                    }
                    put_utf8(out, cp);
                    break;
                }
                default: fail("bad escape");
            }
        }
        return out;
    }

    Json value() {
        if (++depth > 64) fail("nesting too deep");
        ws();
        if (i >= s.size()) fail("unexpected end");
        Json out;
        char c = s[i];
        if (c == '{') {
            ++i;
            out = Json::object();
            ws();
            if (i < s.size() && s[i] == '}') { ++i; --depth; return out; }
            for (;;) {
                ws();
                if (i >= s.size() || s[i] != '"') fail("expected key");
                std::string k = string_body();
                ws();
                if (i >= s.size() || s[i] != ':') fail("expected colon");
                ++i;
                out.set(k, value());
                ws();
                if (i < s.size() && s[i] == ',') { ++i; continue; }
                if (i < s.size() && s[i] == '}') { ++i; break; }
                fail("expected , or }");
            }
        } else if (c == '[') {
            ++i;
            out = Json::array();
            ws();
            if (i < s.size() && s[i] == ']') { ++i; --depth; return out; }
            for (;;) {
                out.push(value());
                ws();
                if (i < s.size() && s[i] == ',') { ++i; continue; }
                if (i < s.size() && s[i] == ']') { ++i; break; }
                fail("expected , or ]");
            }
        } else if (c == '"') {
            out = Json::string(string_body());
        } else if (lit("true")) {
            out = Json::boolean(true);
        } else if (lit("false")) {
            out = Json::boolean(false);
        } else if (lit("null")) {
            out = Json::null();
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            size_t start = i;
            if (s[i] == '-') ++i;
            while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == 'e' || s[i] == 'E' ||
                                    s[i] == '+' || s[i] == '-'))
                ++i;
            std::string tok = s.substr(start, i - start);
            char* end = nullptr;
            double v = std::strtod(tok.c_str(), &end);
            if (end == tok.c_str() || *end != '\0' || !std::isfinite(v)) fail("bad number");
            out = Json::number(v);
        } else {
            fail("unexpected character");
        }
        --depth;
        return out;
    }
};

void dump_string(std::string& out, const std::string& v) {
    out += '"';
    size_t i = 0;
    while (i < v.size()) {
        unsigned char c = static_cast<unsigned char>(v[i]);
        if (c < 0x80) {
            switch (c) {
                case '"': out += "\\\""; break;
                case '\\': out += "\\\\"; break;
                case '\n': out += "\\n"; break;
                case '\r': out += "\\r"; break;
                case '\t': out += "\\t"; break;
                case '\b': out += "\\b"; break;
                case '\f': out += "\\f"; break;
                default:
                    if (c < 0x20 || c == 0x7F) {
                        char buf[8];
                        std::snprintf(buf, sizeof buf, "\\u%04x", c);
                        out += buf;
                    } else {
                        out += static_cast<char>(c);
                    }
            }
            ++i;
            continue;
        }
        // Copy a well-formed UTF-8 sequence; replace a malformed byte with U+FFFD.
        int n = (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3 : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
        bool ok = n > 0 && i + n <= v.size();
        for (int k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(v[i + k]) & 0xC0) == 0x80;
        if (ok && n == 3) {
            unsigned char c1 = static_cast<unsigned char>(v[i + 1]);
            if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0)) ok = false;
        }
        if (ok && n == 4) {
            unsigned char c1 = static_cast<unsigned char>(v[i + 1]);
            if ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90)) ok = false;
        }
        if (ok) {
            out.append(v, i, n);
            i += n;
        } else {
            out += "\xEF\xBF\xBD";
            ++i;
        }
    }
    out += '"';
}

void dump(std::string& out, const Json& j) {
    switch (j.type) {
        case Json::Type::Null: out += "null"; break;
        case Json::Type::Bool: out += j.b ? "true" : "false"; break;
        case Json::Type::Number: {
            if (!std::isfinite(j.num)) { out += "null"; break; }
            char buf[32];
            if (j.num == std::floor(j.num) && std::fabs(j.num) < 1e15) std::snprintf(buf, sizeof buf, "%.0f", j.num);
            else std::snprintf(buf, sizeof buf, "%.7g", j.num);
            out += buf;
            break;
        }
        case Json::Type::String: dump_string(out, j.str); break;
        case Json::Type::Array: {
            out += '[';
            for (size_t k = 0; k < j.arr.size(); ++k) {
                if (k) out += ',';
                dump(out, j.arr[k]);
            }
            out += ']';
            break;
        }
        case Json::Type::Object: {
            out += '{';
            for (size_t k = 0; k < j.obj.size(); ++k) {
                if (k) out += ',';
                dump_string(out, j.obj[k].first);
                out += ':';
                dump(out, j.obj[k].second);
            }
            out += '}';
            break;
        }
    }
}

}  // namespace

Json parse_json(const std::string& text) {
    Parser p{text};
    Json v = p.value();
    p.ws();
    if (p.i != text.size()) throw std::runtime_error("trailing data");
    return v;
}

std::string dump_json(const Json& j) {
    std::string out;
    dump(out, j);
    return out;
}

std::vector<uint8_t> base64_decode(const std::string& s, size_t max_bytes) {
    if (s.size() / 4 * 3 > max_bytes + 3) throw EngineError{"image_too_large", 1};
    std::vector<uint8_t> out;
    out.reserve(s.size() / 4 * 3);
    uint32_t acc = 0;
    int bits = 0;
    size_t pad = 0;
    for (char ch : s) {
        int v;
        if (ch >= 'A' && ch <= 'Z') v = ch - 'A';
        else if (ch >= 'a' && ch <= 'z') v = ch - 'a' + 26;
        else if (ch >= '0' && ch <= '9') v = ch - '0' + 52;
        else if (ch == '+') v = 62;
        else if (ch == '/') v = 63;
        else if (ch == '=') { ++pad; continue; }
        else if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t') continue;
        else throw EngineError{"bad_base64", 1};
        if (pad) throw EngineError{"bad_base64", 1};  // data after padding
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<uint8_t>((acc >> bits) & 0xFF));
        }
    }
    if (bits >= 6 || pad > 2) throw EngineError{"bad_base64", 1};
    if (out.size() > max_bytes) throw EngineError{"image_too_large", 1};
    return out;
}

}  // namespace idv
