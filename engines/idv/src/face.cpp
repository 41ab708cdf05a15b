// Face detection, 68-point landmarks, 128-d descriptors (dlib) and landmark-derived pose and
// eye-openness metrics. The only translation unit that includes dlib (its headers are heavy).
//
// Pipeline per image:
//   1. dlib's HOG frontal face detector on the image upsampled `upsample` times (pyramid_up),
//      boxes mapped back to the input's coordinates. When it finds nothing and the image is at
//      most 1.2 megapixels, dlib's MMOD CNN detector (mmod_human_face_detector.dat) is tried.
//   2. 68-point landmarks (shape_predictor_68_face_landmarks.dat) and 5-point landmarks
//      (shape_predictor_5_face_landmarks.dat) on the input image.
//   3. Descriptor: dlib's ResNet (dlib_face_recognition_resnet_model_v1.dat) on the 150x150 chip
//      aligned from the 5 points with padding 0.25, no jitter — as dlib's face recognition example
//      and face_recognition's default do.
#include <algorithm>
#include <cmath>
#include <sys/stat.h>

#include <dlib/dnn.h>
#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms.h>
#include <dlib/revision.h>

#include "common.hpp"

namespace idv {

namespace {

using namespace dlib;

// The ResNet-34-like metric network whose weights dlib publishes (definition from dlib's docs).
template <template <int, template <typename> class, int, typename> class B, int N,
          template <typename> class BN, typename S>
using residual = add_prev1<B<N, BN, 1, tag1<S>>>;
template <template <int, template <typename> class, int, typename> class B, int N,
          template <typename> class BN, typename S>
using residual_down = add_prev2<avg_pool<2, 2, 2, 2, skip1<tag2<B<N, BN, 2, tag1<S>>>>>>;
template <int N, template <typename> class BN, int stride, typename S>
using block = BN<con<N, 3, 3, 1, 1, relu<BN<con<N, 3, 3, stride, stride, S>>>>>;
template <int N, typename S> using ares = relu<residual<block, N, affine, S>>;
template <int N, typename S> using ares_down = relu<residual_down<block, N, affine, S>>;
template <typename S> using alevel0 = ares_down<256, S>;
template <typename S> using alevel1 = ares<256, ares<256, ares_down<256, S>>>;
template <typename S> using alevel2 = ares<128, ares<128, ares_down<128, S>>>;
template <typename S> using alevel3 = ares<64, ares<64, ares<64, ares_down<64, S>>>>;
template <typename S> using alevel4 = ares<32, ares<32, ares<32, S>>>;
using descriptor_net = loss_metric<fc_no_bias<
    128, avg_pool_everything<alevel0<alevel1<alevel2<alevel3<alevel4<
             max_pool<3, 3, 2, 2, relu<affine<con<32, 7, 7, 2, 2, input_rgb_image_sized<150>>>>>>>>>>>>>;

// dlib's MMOD face detector network (inference form, affine layers).
template <long F, typename S> using con5d = con<F, 5, 5, 2, 2, S>;
template <long F, typename S> using con5 = con<F, 5, 5, 1, 1, S>;
template <typename S>
using downsampler = relu<affine<con5d<32, relu<affine<con5d<32, relu<affine<con5d<16, S>>>>>>>>>;
template <typename S> using rcon5 = relu<affine<con5<45, S>>>;
using mmod_net = loss_mmod<con<1, 9, 9, 1, 1, rcon5<rcon5<rcon5<downsampler<input_rgb_image_pyramid<pyramid_down<6>>>>>>>>;

bool readable(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

const char* kResnet = "dlib_face_recognition_resnet_model_v1.dat";
const char* kSp68 = "shape_predictor_68_face_landmarks.dat";
const char* kSp5 = "shape_predictor_5_face_landmarks.dat";
const char* kMmod = "mmod_human_face_detector.dat";

struct P {
    double x, y;
};
P pt(const full_object_detection& s, unsigned i) { return {static_cast<double>(s.part(i).x()), static_cast<double>(s.part(i).y())}; }
double dist(P a, P b) { return std::hypot(a.x - b.x, a.y - b.y); }
P mean_of(const full_object_detection& s, unsigned from, unsigned to) {
    P m{0, 0};
    for (unsigned i = from; i <= to; ++i) { m.x += s.part(i).x(); m.y += s.part(i).y(); }
    double n = to - from + 1;
    return {m.x / n, m.y / n};
}

// Eye aspect ratio over six eye points p1..p6 = s.part(first .. first+5).
double eye_aspect_ratio(const full_object_detection& s, unsigned first) {
    P p1 = pt(s, first), p2 = pt(s, first + 1), p3 = pt(s, first + 2), p4 = pt(s, first + 3), p5 = pt(s, first + 4),
      p6 = pt(s, first + 5);
    double w = dist(p1, p4);
    if (w <= 0) return 0;
    return (dist(p2, p6) + dist(p3, p5)) / (2.0 * w);
}

// Nose-tip depth in front of the eye/mouth plane as a fraction of the eye-to-mouth distance
// (an average-face proportion), and the neutral vertical position of the nose tip between the
// eye line (0) and the mouth centre (1) in a frontal, level face.
constexpr double kNoseDepth = 0.5;
constexpr double kNoseNeutral = 0.5;

struct Pose {
    double yaw, pitch, roll;
};

// Pose approximation from 68 landmarks (no 3-D model fit). See docs/idv-engines.md.
Pose pose_from_landmarks(const full_object_detection& s) {
    const double deg = 180.0 / M_PI;
    P el = mean_of(s, 36, 41);  // image-left eye (the person's right eye)
    P er = mean_of(s, 42, 47);  // image-right eye (the person's left eye)
    P mouth = mean_of(s, 48, 59);
    P nose = pt(s, 30);
    double roll = std::atan2(er.y - el.y, er.x - el.x);
    P e{(el.x + er.x) / 2, (el.y + er.y) / 2};
    double c = std::cos(roll), sn = std::sin(roll);
    auto level = [&](P p) {
        double dx = p.x - e.x, dy = p.y - e.y;
        return P{dx * c + dy * sn, -dx * sn + dy * c};
    };
    P m = level(mouth), n = level(nose);
    double em = m.y;  // eye-line to mouth-centre distance (little affected by yaw)
    if (em <= 1e-6) return {0, 0, roll * deg};
    double midline_x = m.x * (n.y / em);  // the eye-mid → mouth-centre line at the nose's height
    double yaw = std::asin(std::clamp((n.x - midline_x) / (kNoseDepth * em), -1.0, 1.0));
    double pitch = std::asin(std::clamp((kNoseNeutral - n.y / em) / kNoseDepth, -1.0, 1.0));
    return {yaw * deg, pitch * deg, roll * deg};
}

}  // namespace

struct FaceEngine {
    frontal_face_detector hog = get_frontal_face_detector();
    shape_predictor sp68;
    shape_predictor sp5;
    descriptor_net net;
    bool have_mmod = false;
    mmod_net mmod;
};

void FaceEngineDeleter::operator()(FaceEngine* e) const { delete e; }

bool face_models_present(const std::string& dir) {
    return readable(dir + "/" + kResnet) && readable(dir + "/" + kSp68) && readable(dir + "/" + kSp5);
}

std::unique_ptr<FaceEngine, FaceEngineDeleter> face_engine_load(const std::string& dir) {
    if (!face_models_present(dir)) throw EngineError{"engine_unavailable", 3};
    std::unique_ptr<FaceEngine, FaceEngineDeleter> e(new FaceEngine());
    try {
        deserialize(dir + "/" + kSp68) >> e->sp68;
        deserialize(dir + "/" + kSp5) >> e->sp5;
        deserialize(dir + "/" + kResnet) >> e->net;
        if (readable(dir + "/" + kMmod)) {
            deserialize(dir + "/" + kMmod) >> e->mmod;
            e->have_mmod = true;
        }
    } catch (const std::exception&) {
        throw EngineError{"engine_unavailable", 3};
    }
    return e;
}

Json face_analyze(FaceEngine& eng, const Image& in, int upsample) {
    matrix<rgb_pixel> img(in.height, in.width);
    for (int y = 0; y < in.height; ++y) {
        const uint8_t* row = &in.rgb[static_cast<size_t>(y) * in.width * 3];
        for (int x = 0; x < in.width; ++x) img(y, x) = rgb_pixel(row[3 * x], row[3 * x + 1], row[3 * x + 2]);
    }

    // Upsampling quadruples the pixel count each time: keep the working image under 16 MP.
    upsample = std::clamp(upsample, 0, 3);
    while (upsample > 0 && static_cast<double>(in.width) * in.height * std::pow(4.0, upsample) > 16e6) --upsample;

    std::vector<std::pair<rectangle, std::string>> boxes;
    // dlib's HOG window is 80x80 pixels and the CNN's smallest face about 40: smaller images
    // hold no detectable face (and dlib fails on degenerate sizes).
    const int shorter = std::min(in.width, in.height);
    if (static_cast<double>(shorter) * std::pow(2.0, upsample) >= 80) {
        pyramid_down<2> pyr;
        std::vector<rectangle> found;
        if (upsample == 0) {
            found = eng.hog(img);
        } else {
            matrix<rgb_pixel> up = img;
            for (int k = 0; k < upsample; ++k) pyramid_up(up, pyr);
            found = eng.hog(up);
            for (auto& r : found)
                for (int k = 0; k < upsample; ++k) r = pyr.rect_down(r);
        }
        for (const auto& r : found) boxes.emplace_back(r, "hog");
    }
    if (boxes.empty() && eng.have_mmod && shorter >= 48 && static_cast<double>(in.width) * in.height <= 1.2e6) {
        for (const auto& d : eng.mmod(img)) boxes.emplace_back(d.rect, "cnn");
    }

    const rectangle bounds(0, 0, in.width - 1, in.height - 1);
    std::sort(boxes.begin(), boxes.end(), [&](const auto& a, const auto& b) {
        return a.first.intersect(bounds).area() > b.first.intersect(bounds).area();
    });

    std::vector<full_object_detection> shapes68;
    std::vector<matrix<rgb_pixel>> chips;
    for (const auto& bx : boxes) {
        shapes68.push_back(eng.sp68(img, bx.first));
        full_object_detection s5 = eng.sp5(img, bx.first);
        matrix<rgb_pixel> chip;
        extract_image_chip(img, get_face_chip_details(s5, 150, 0.25), chip);
        chips.push_back(std::move(chip));
    }
    std::vector<matrix<float, 0, 1>> descriptors;
    if (!chips.empty()) descriptors = eng.net(chips);

    Json faces = Json::array();
    for (size_t i = 0; i < boxes.size(); ++i) {
        const rectangle r = boxes[i].first.intersect(bounds);
        Json f = Json::object();
        Json box = Json::array();
        box.push(Json::number(r.left())).push(Json::number(r.top())).push(Json::number(r.right())).push(Json::number(r.bottom()));
        f.set("box", box);
        Json desc = Json::array();
        for (long k = 0; k < descriptors[i].size(); ++k) desc.push(Json::number(descriptors[i](k)));
        f.set("descriptor", desc);
        Json lm = Json::array();
        const auto& s = shapes68[i];
        for (unsigned k = 0; k < s.num_parts(); ++k) {
            Json p = Json::array();
            p.push(Json::number(s.part(k).x())).push(Json::number(s.part(k).y()));
            lm.push(p);
        }
        f.set("landmarks", lm);
        Json ear = Json::object();
        ear.set("left", Json::number(eye_aspect_ratio(s, 42)));   // the person's left eye (image right)
        ear.set("right", Json::number(eye_aspect_ratio(s, 36)));  // the person's right eye (image left)
        f.set("eye_aspect_ratio", ear);
        Pose pose = pose_from_landmarks(s);
        f.set("yaw", Json::number(pose.yaw));
        f.set("pitch", Json::number(pose.pitch));
        f.set("roll", Json::number(pose.roll));
        f.set("detector", Json::string(boxes[i].second));
        faces.push(f);
    }
    Json out = Json::object();
    out.set("ok", Json::boolean(true));
    out.set("width", Json::number(in.width));
    out.set("height", Json::number(in.height));
    out.set("faces", faces);
    return out;
}

std::string dlib_version() {
    return std::to_string(DLIB_MAJOR_VERSION) + "." + std::to_string(DLIB_MINOR_VERSION);
}

}  // namespace idv
