// Schema-v1 feature files: write (atomic, fingerprinted), read + validate, fingerprint, describe.
// The layout is documented in datasets/SCHEMA.md; keep the two in step.
#include "vlb/datasets/feature_store.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <set>
#include <sstream>

#include "vlb/core/error.h"
#include "vlb/datasets/isolated_read.h"
#include "vlb/core/io_error.h"
#include "vlb/core/fs.h"
#include "vlb/core/sha256.h"
#include "vlb/datasets/content_check.h"
#include "vlb/datasets/hdf5.h"

namespace fs = std::filesystem;

namespace vlb {
namespace {

using h5::DType;

constexpr const char* kSchemaName = "vlb-features";
// Root attributes that Dataset holds in dedicated fields rather than in `attrs`.
const std::set<std::string> kReservedAttrs = {"schema", "schema_version", "dataset",
                                              "content_sha256"};

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// ---- writing ------------------------------------------------------------------------------

void write_contents(hid_t f, const Dataset& ds, const WriteOptions& opts) {
  const int64_t N = ds.num_images();
  const int64_t C = ds.num_classes();
  const DType feat = opts.features_fp16 ? DType::kFloat16 : DType::kFloat32;

  h5::set_attr(f, "/", "schema", std::string(kSchemaName));
  h5::set_attr(f, "/", "schema_version", static_cast<int64_t>(kSchemaVersion));
  h5::set_attr(f, "/", "dataset", ds.name);
  // Provenance attributes are required by the schema; fill honest defaults when absent.
  std::map<std::string, std::string> attrs = ds.attrs;
  attrs.emplace("feature_model", "unknown");
  attrs.emplace("created_by", "vlbench");
  attrs.emplace("source_files", "[]");
  for (const auto& [k, v] : attrs)
    if (!kReservedAttrs.count(k)) h5::set_attr(f, "/", k, v);

  h5::write_strings(f, "/classes/names", ds.class_names);
  for (const auto& [kind, t] : ds.descriptors)
    h5::write_array(f, "/classes/descriptors/" + kind, t, DType::kFloat32);

  if (!ds.features.defined()) throw Error("write_dataset: dataset has no features");
  // Row chunks keep reading a subset of rows cheap without hurting whole-array reads.
  h5::write_array(f, "/images/features", ds.features, feat, std::min<int64_t>(N, 4096));
  if (!ds.image_ids.empty()) h5::write_strings(f, "/images/ids", ds.image_ids);
  at::Tensor label = ds.label.defined() ? ds.label : torch::full({N}, -1, torch::kLong);
  h5::write_array(f, "/images/label", label, DType::kInt32);
  if (ds.labels.defined()) h5::write_array(f, "/images/labels", ds.labels, DType::kInt8);
  // Optional multi-label pieces (SARL); absent ones write nothing, so older files stay as they were.
  if (ds.feature_maps.defined()) {
    const auto& m = ds.feature_maps;
    if (m.dim() != 3 || m.size(0) != N || m.size(1) != ds.map_height * ds.map_width)
      throw Error(fmt::format("write_dataset: feature_maps must be [N={}, H*W={}*{}, C_f]", N,
                              ds.map_height, ds.map_width));
    // One chunk per image: a minibatch reads whole images.
    h5::write_array(f, "/images/feature_maps", m.contiguous(), feat, 1);
    h5::set_attr(f, "/images/feature_maps", "height", ds.map_height);
    h5::set_attr(f, "/images/feature_maps", "width", ds.map_width);
  }
  if (ds.partial_labels.defined()) {
    h5::write_array(f, "/images/partial_labels", ds.partial_labels, DType::kInt8);
    h5::set_attr(f, "/images/partial_labels", "keep_prob", fmt::format("{}", ds.partial_keep_prob));
    h5::set_attr(f, "/images/partial_labels", "seed", ds.partial_seed);
  }

  for (const auto& [name, idx] : ds.splits) h5::write_array(f, "/splits/" + name, idx, DType::kInt64);
  for (const auto& [name, idx] : ds.class_splits)
    h5::write_array(f, "/class_splits/" + name, idx, DType::kInt32);

  const Texts& tx = ds.texts;
  if (tx.features.defined()) {
    const int64_t T = tx.size();
    h5::write_array(f, "/texts/features", tx.features, feat, std::min<int64_t>(T, 4096));
    h5::write_strings(f, "/texts/strings", tx.strings);
    h5::write_array(f, "/texts/image",
                    tx.image.defined() ? tx.image : torch::full({T}, -1, torch::kLong), DType::kInt64);
    h5::write_array(f, "/texts/class",
                    tx.cls.defined() ? tx.cls : torch::full({T}, -1, torch::kLong), DType::kInt64);
    h5::write_array(f, "/texts/source",
                    tx.source.defined() ? tx.source : torch::zeros({T}, torch::kChar), DType::kInt8);
    // Optional text kinds (CODER); absent datasets keep files of older writers byte-identical.
    if (tx.type.defined()) {
      h5::write_array(f, "/texts/type", tx.type, DType::kInt8);
      h5::write_array(f, "/texts/partner",
                      tx.partner.defined() ? tx.partner : torch::full({T}, -1, torch::kLong),
                      DType::kInt64);
    }
    // Optional text towers and sentence parents (composition); absent ones write nothing.
    for (const auto& [name, emb] : tx.towers) {
      if (!emb.defined() || emb.dim() != 2 || emb.size(0) != T)
        throw Error(fmt::format("write_dataset: text tower '{}' must be [T={}, D_k]", name, T));
      h5::write_array(f, "/texts/towers/" + name, emb, feat, std::min<int64_t>(T, 4096));
    }
    if (tx.parent.defined()) h5::write_array(f, "/texts/parent", tx.parent, DType::kInt64);
  }
  for (const auto& [name, g] : ds.groups) {
    const std::string base = "/groups/" + name;
    if (!g.image.defined() || !g.text.defined() || g.image.dim() != 2 || g.text.dim() != 2 ||
        g.image.size(0) != g.text.size(0))
      throw Error("write_dataset: group '" + name + "' needs image [G, I] and text [G, K]");
    const int64_t G = g.image.size(0);
    h5::write_strings(f, base + "/kind", {g.kind});
    h5::write_array(f, base + "/image", g.image, DType::kInt64);
    h5::write_array(f, base + "/text", g.text, DType::kInt64);
    h5::write_array(f, base + "/subset", g.subset.defined() ? g.subset : torch::zeros({G}, torch::kLong),
                    DType::kInt64);
    h5::write_strings(f, base + "/subset_names",
                      g.subset_names.empty() ? std::vector<std::string>{"all"} : g.subset_names);
  }
  (void)C;
}

}  // namespace

const char* to_string(TextType t) {
  switch (t) {
    case TextType::kName: return "name";
    case TextType::kAttribute: return "attribute";
    case TextType::kAnalogy: return "analogy";
    case TextType::kSynonym: return "synonym";
    case TextType::kPair: return "pair";
    case TextType::kOther: break;
  }
  return "other";
}

TextType parse_text_type(const std::string& name) {
  for (int c = -1; c <= kMaxTextType; ++c)
    if (name == to_string(static_cast<TextType>(c))) return static_cast<TextType>(c);
  throw ConfigError("unknown text type '" + name +
                    "' (expected name, attribute, analogy, synonym, pair or other)");
}

namespace {

std::string fingerprint_of(hid_t f) {
  // Note [content fingerprint]: for every dataset in sorted path order we hash
  //   path \0 dtype-name \0 shape \0 8-byte-LE-length data
  // where data is the little-endian bytes as stored (fp16 files hash fp16 bytes) and strings are
  // each an 8-byte little-endian length followed by their UTF-8 bytes. Attributes are not
  // hashed: provenance may differ between byte-identical contents.
  Sha256 h;
  auto put_u64 = [&](uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
    h.update(b, 8);
  };
  for (const auto& path : h5::all_datasets(f)) {
    h5::Info inf = h5::info(f, path);
    h.update(path);
    h.update("\0", 1);
    h.update(std::string(h5::dtype_name(inf.dtype)));
    h.update("\0", 1);
    h.update(shape_str(inf.shape));
    h.update("\0", 1);
    if (inf.dtype == DType::kString) {
      auto strs = h5::read_strings(f, path);
      put_u64(strs.size());
      for (const auto& s : strs) {
        put_u64(s.size());
        h.update(s);
      }
    } else {
      std::string raw = h5::read_raw_le(f, path);
      put_u64(raw.size());
      h.update(raw);
    }
  }
  return h.hex_digest();
}

// ---- validation ---------------------------------------------------------------------------

struct Reader {
  std::string file;
  hid_t f;

  [[noreturn]] void fail(const std::string& where, const std::string& msg) const {
    throw DataError(file, where, msg);
  }
  h5::Info need(const std::string& path, const std::string& expected) const {
    if (!h5::is_dataset(f, path)) fail(path, "missing; expected " + expected);
    return h5::info(f, path);
  }
  // A 1-D integer array of length n (n < 0: any length).
  at::Tensor int_vector(const std::string& path, int64_t n, const std::string& expected) const {
    h5::Info inf = need(path, expected);
    if (!h5::is_integer(inf.dtype) || inf.shape.size() != 1 || (n >= 0 && inf.shape[0] != n))
      fail(path, "expected " + expected + ", got " + inf.describe());
    return h5::read_array(f, path).to(torch::kLong);
  }
  void check_range(const std::string& path, const at::Tensor& v, int64_t lo, int64_t hi,
                   const std::string& what) const {
    if (v.numel() == 0) return;
    at::Tensor bad = ((v < lo) | (v >= hi)).nonzero();
    if (bad.numel() > 0) {
      int64_t i = bad[0][0].item<int64_t>();
      fail(path, fmt::format("{} must be in [{}, {}), got {} at index {}", what, lo, hi,
                             v[i].item<int64_t>(), i));
    }
  }
};

Dataset load(const std::string& path) {
  h5::File file = h5::File::open(path);
  hid_t f = file.id();
  Reader r{path, f};
  Dataset ds;
  ds.path = path;

  auto schema = h5::get_attr_text(f, "/", "schema");
  if (!schema || *schema != kSchemaName)
    r.fail("/", fmt::format("root attribute schema: expected \"{}\", got {}", kSchemaName,
                            schema ? "\"" + *schema + "\"" : std::string("none")));
  auto version = h5::get_attr_int(f, "/", "schema_version");
  if (!version) r.fail("/", "root attribute schema_version: expected integer 1, got none");
  if (*version != kSchemaVersion)
    r.fail("/", fmt::format("unsupported schema_version {} (this build reads version {})",
                            *version, kSchemaVersion));
  ds.name = h5::get_attr_text(f, "/", "dataset").value_or("");
  for (const auto& a : h5::attr_names(f, "/"))
    if (!kReservedAttrs.count(a)) ds.attrs[a] = h5::get_attr_text(f, "/", a).value_or("");

  // /classes
  {
    h5::Info inf = r.need("/classes/names", "[C] string");
    if (inf.dtype != DType::kString || inf.shape.size() != 1)
      r.fail("/classes/names", "expected [C] string, got " + inf.describe());
    ds.class_names = h5::read_strings(f, "/classes/names");
  }
  const int64_t C = ds.num_classes();
  for (const auto& kind : h5::children(f, "/classes/descriptors")) {
    std::string p = "/classes/descriptors/" + kind;
    std::string exp = fmt::format("[C={}, D_k] float32", C);
    h5::Info inf = r.need(p, exp);
    if (!h5::is_float(inf.dtype) || inf.shape.size() != 2 || inf.shape[0] != C)
      r.fail(p, "expected " + exp + ", got " + inf.describe());
    ds.descriptors[kind] = h5::read_array(f, p).to(torch::kFloat);
  }

  // /images
  {
    const std::string p = "/images/features";
    const std::string exp = "[N, D] float32 or float16";
    h5::Info inf = r.need(p, exp);
    if (inf.shape.size() != 2 || (inf.dtype != DType::kFloat16 && inf.dtype != DType::kFloat32))
      r.fail(p, "expected " + exp + ", got " + inf.describe());
    ds.feature_dtype = h5::dtype_name(inf.dtype);
    ds.features = h5::read_array(f, p).to(torch::kFloat);
  }
  const int64_t N = ds.num_images();
  const int64_t D = ds.dim();
  {
    const std::string p = "/images/label";
    ds.label = r.int_vector(p, N, fmt::format("[N={}] int32", N));
    r.check_range(p, ds.label, -1, C, fmt::format("labels (C={} classes, -1 = none)", C));
  }
  if (h5::exists(f, "/images/ids")) {
    h5::Info inf = h5::info(f, "/images/ids");
    if (inf.dtype != DType::kString || inf.shape != std::vector<int64_t>{N})
      r.fail("/images/ids", fmt::format("expected [N={}] string, got {}", N, inf.describe()));
    ds.image_ids = h5::read_strings(f, "/images/ids");
  }
  if (h5::exists(f, "/images/labels")) {
    const std::string p = "/images/labels";
    std::string exp = fmt::format("[N={}, C={}] int8", N, C);
    h5::Info inf = r.need(p, exp);
    if (inf.dtype != DType::kInt8 || inf.shape != std::vector<int64_t>{N, C})
      r.fail(p, "expected " + exp + ", got " + inf.describe());
    ds.labels = h5::read_array(f, p);
    r.check_range(p, ds.labels.flatten(), -1, 2, "multi-label values (+1/-1/0)");
  }

  if (h5::exists(f, "/images/feature_maps")) {
    const std::string p = "/images/feature_maps";
    const std::string exp = fmt::format("[N={}, H*W, C_f] float32 or float16 with int attributes height, width", N);
    h5::Info inf = r.need(p, exp);
    if (inf.shape.size() != 3 || inf.shape[0] != N ||
        (inf.dtype != DType::kFloat16 && inf.dtype != DType::kFloat32))
      r.fail(p, "expected " + exp + ", got " + inf.describe());
    auto hh = h5::get_attr_int(f, p, "height"), ww = h5::get_attr_int(f, p, "width");
    if (!hh || !ww || *hh < 1 || *ww < 1 || *hh * *ww != inf.shape[1])
      r.fail(p, fmt::format("attributes height and width must be positive integers with "
                            "height*width = {} (the second dimension)", inf.shape[1]));
    ds.map_height = *hh;
    ds.map_width = *ww;
    ds.feature_maps = h5::read_array(f, p).to(torch::kFloat);
  }
  if (h5::exists(f, "/images/partial_labels")) {
    const std::string p = "/images/partial_labels";
    std::string exp = fmt::format("[N={}, C={}] int8", N, C);
    h5::Info inf = r.need(p, exp);
    if (inf.dtype != DType::kInt8 || inf.shape != std::vector<int64_t>{N, C})
      r.fail(p, "expected " + exp + ", got " + inf.describe());
    ds.partial_labels = h5::read_array(f, p);
    r.check_range(p, ds.partial_labels.flatten(), -1, 2, "partial-label values (+1/-1/0)");
    auto kp = h5::get_attr_text(f, p, "keep_prob");
    try {
      ds.partial_keep_prob = kp ? std::stod(*kp) : -1.0;
    } catch (const std::exception&) {
      r.fail(p, "attribute keep_prob must be a number, got '" + *kp + "'");
    }
    ds.partial_seed = h5::get_attr_int(f, p, "seed").value_or(-1);
  }

  // /splits and /class_splits
  if (h5::children(f, "/splits").empty())
    r.fail("/splits", "missing; expected at least one split /splits/<name> [n] int64");
  for (const auto& name : h5::children(f, "/splits")) {
    std::string p = "/splits/" + name;
    at::Tensor idx = r.int_vector(p, -1, "[n] int64 row indices");
    r.check_range(p, idx, 0, N, fmt::format("row indices (N={})", N));
    if (idx.numel() > 1) {
      at::Tensor bad = (idx.slice(0, 1) <= idx.slice(0, 0, -1)).nonzero();
      if (bad.numel() > 0) {
        int64_t i = bad[0][0].item<int64_t>();
        r.fail(p, fmt::format("row indices must be sorted and unique, but index {} is {} and "
                              "index {} is {}",
                              i, idx[i].item<int64_t>(), i + 1, idx[i + 1].item<int64_t>()));
      }
    }
    ds.splits[name] = idx;
  }
  for (const auto& name : h5::children(f, "/class_splits")) {
    std::string p = "/class_splits/" + name;
    at::Tensor idx = r.int_vector(p, -1, "[c] int32 class ids");
    r.check_range(p, idx, 0, C, fmt::format("class ids (C={})", C));
    ds.class_splits[name] = idx;
  }

  // /texts: all-or-nothing.
  if (h5::exists(f, "/texts")) {
    const std::string p = "/texts/features";
    std::string exp = fmt::format("[T, D={}] float32 or float16", D);
    h5::Info inf = r.need(p, exp);
    if (inf.shape.size() != 2 || inf.shape[1] != D ||
        (inf.dtype != DType::kFloat16 && inf.dtype != DType::kFloat32))
      r.fail(p, "expected " + exp + ", got " + inf.describe());
    const int64_t T = inf.shape[0];
    Texts& tx = ds.texts;
    tx.features = h5::read_array(f, p).to(torch::kFloat);
    h5::Info si = r.need("/texts/strings", fmt::format("[T={}] string", T));
    if (si.dtype != DType::kString || si.shape != std::vector<int64_t>{T})
      r.fail("/texts/strings", fmt::format("expected [T={}] string, got {}", T, si.describe()));
    tx.strings = h5::read_strings(f, "/texts/strings");
    tx.image = r.int_vector("/texts/image", T, fmt::format("[T={}] int64", T));
    r.check_range("/texts/image", tx.image, -1, N, fmt::format("image rows (N={}, -1 = none)", N));
    tx.cls = r.int_vector("/texts/class", T, fmt::format("[T={}] int64", T));
    r.check_range("/texts/class", tx.cls, -1, C, fmt::format("class ids (C={}, -1 = none)", C));
    h5::Info so = r.need("/texts/source", fmt::format("[T={}] int8", T));
    if (!h5::is_integer(so.dtype) || so.shape != std::vector<int64_t>{T})
      r.fail("/texts/source", fmt::format("expected [T={}] int8, got {}", T, so.describe()));
    tx.source = h5::read_array(f, "/texts/source").to(torch::kChar);
    if (h5::exists(f, "/texts/type")) {
      at::Tensor ty = r.int_vector("/texts/type", T, fmt::format("[T={}] int8", T));
      r.check_range("/texts/type", ty, -1, kMaxTextType + 1,
                    "text type codes (-1 other, 0 name, 1 attribute, 2 analogy, 3 synonym, 4 pair)");
      tx.type = ty.to(torch::kChar);
      if (h5::exists(f, "/texts/partner")) {
        tx.partner = r.int_vector("/texts/partner", T, fmt::format("[T={}] int64", T));
        r.check_range("/texts/partner", tx.partner, -1, C, fmt::format("class ids (C={}, -1 = none)", C));
      } else {
        tx.partner = torch::full({T}, -1, torch::kLong);
      }
      // A one-vs-one text must name both of its classes, and they must differ.
      auto is_pair = ty.eq(static_cast<int64_t>(TextType::kPair));
      auto bad = (is_pair & (tx.cls.lt(0) | tx.partner.lt(0) | tx.cls.eq(tx.partner))).nonzero();
      if (bad.size(0) > 0) {
        int64_t row = bad[0][0].item<int64_t>();
        r.fail("/texts/partner",
               fmt::format("row {}: a pair text (type 4) needs /texts/class >= 0 and a different "
                           "/texts/partner >= 0, got class {} partner {}",
                           row, tx.cls[row].item<int64_t>(), tx.partner[row].item<int64_t>()));
      }
    } else if (h5::exists(f, "/texts/partner")) {
      r.fail("/texts/partner", "present without /texts/type");
    }
    for (const auto& name : h5::children(f, "/texts/towers")) {
      const std::string tp = "/texts/towers/" + name;
      std::string texp = fmt::format("[T={}, D_k] float32 or float16", T);
      h5::Info ti = r.need(tp, texp);
      if (ti.shape.size() != 2 || ti.shape[0] != T || !h5::is_float(ti.dtype))
        r.fail(tp, "expected " + texp + ", got " + ti.describe());
      tx.towers[name] = h5::read_array(f, tp).to(torch::kFloat);
    }
    if (h5::exists(f, "/texts/parent")) {
      tx.parent = r.int_vector("/texts/parent", T, fmt::format("[T={}] int64", T));
      r.check_range("/texts/parent", tx.parent, -1, T, fmt::format("text rows (T={}, -1 = none)", T));
      auto self = tx.parent.eq(torch::arange(T, torch::kLong)).nonzero();
      if (self.size(0) > 0)
        r.fail("/texts/parent", fmt::format("row {} names itself as its parent", self[0][0].item<int64_t>()));
    }
  }

  // /groups: compositional benchmarks (optional).
  for (const auto& name : h5::children(f, "/groups")) {
    const std::string base = "/groups/" + name;
    if (!h5::is_group(f, base)) r.fail(base, "expected a group with kind, image, text, subset, subset_names");
    ItemGroup g;
    h5::Info ki = r.need(base + "/kind", "[1] string");
    if (ki.dtype != DType::kString || ki.shape != std::vector<int64_t>{1})
      r.fail(base + "/kind", "expected [1] string, got " + ki.describe());
    g.kind = h5::read_strings(f, base + "/kind")[0];
    const int64_t T = ds.texts.size();
    auto matrix = [&](const std::string& p, int64_t hi, const std::string& what) {
      h5::Info inf = r.need(p, "[G, m] int64");
      if (!h5::is_integer(inf.dtype) || inf.shape.size() != 2 || inf.shape[1] < 1)
        r.fail(p, "expected [G, m>=1] int64, got " + inf.describe());
      at::Tensor m = h5::read_array(f, p).to(torch::kLong);
      r.check_range(p, m.flatten(), 0, hi, what);
      return m;
    };
    g.image = matrix(base + "/image", N, fmt::format("image rows (N={})", N));
    if (T == 0) r.fail(base + "/text", "groups need /texts (the file has none)");
    g.text = matrix(base + "/text", T, fmt::format("text rows (T={})", T));
    const int64_t G = g.image.size(0);
    if (g.text.size(0) != G)
      r.fail(base + "/text", fmt::format("expected {} rows (as image), got {}", G, g.text.size(0)));
    h5::Info ni = r.need(base + "/subset_names", "[S] string");
    if (ni.dtype != DType::kString || ni.shape.size() != 1 || ni.shape[0] < 1)
      r.fail(base + "/subset_names", "expected [S>=1] string, got " + ni.describe());
    g.subset_names = h5::read_strings(f, base + "/subset_names");
    g.subset = r.int_vector(base + "/subset", G, fmt::format("[G={}] int64", G));
    r.check_range(base + "/subset", g.subset, 0, static_cast<int64_t>(g.subset_names.size()),
                  fmt::format("subset ids (S={})", g.subset_names.size()));
    ds.groups[name] = std::move(g);
  }

  // Values, not just shapes: NaN/Inf, zero rows or columns, empty splits, duplicate class names.
  ContentCheckOptions cc;
  cc.allow_duplicate_classes = ds.attrs.count(kDuplicateClassesAttr) > 0;
  check_dataset_content(ds, path, cc);

  // Note [stored fingerprint]: loading trusts content_sha256 (recomputing costs a full extra
  // pass); `vlb inspect --verify` recomputes. Files without it (hand-made) get it computed.
  auto fp = h5::get_attr_text(f, "/", "content_sha256");
  ds.fingerprint = fp ? *fp : fingerprint_of(f);
  return ds;
}

}  // namespace

void write_dataset(Dataset& ds, const std::string& path, const WriteOptions& opts) {
  // A file the loader would refuse is not written (converters check their inputs first and name
  // the input file; this names the output for every other writer).
  ContentCheckOptions cc;
  cc.allow_duplicate_classes = opts.allow_duplicate_classes || ds.attrs.count(kDuplicateClassesAttr);
  check_dataset_content(ds, path, cc);
  if (cc.allow_duplicate_classes) ds.attrs[kDuplicateClassesAttr] = "allowed";

  fs::path p(path);
  if (p.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(p.parent_path(), ec);
    if (ec) throw_io_error(p.parent_path().string(), "cannot create the output directory", ec.value());
  }
  // Note [Stale write temporaries] (core/fs.h): leftovers of killed writers go first.
  remove_stale_temporaries_in(p.parent_path().string());
  const std::string tmp = host_temp_sibling(path);
  try {
    {
      h5::File f = h5::File::create(tmp);
      write_contents(f.id(), ds, opts);
      f.close_checked();
    }
    // Hash what actually landed on disk, so compute_fingerprint agrees by construction.
    std::string fp;
    {
      h5::File f = h5::File::open(tmp, /*writable=*/true);
      fp = fingerprint_of(f.id());
      h5::set_attr(f.id(), "/", "content_sha256", fp);
      f.close_checked();
    }
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec) throw_io_error(path, "cannot move the finished file into place", ec.value());
    ds.fingerprint = fp;
    ds.feature_dtype = opts.features_fp16 ? "float16" : "float32";
  } catch (const Error& e) {
    std::error_code ec;
    fs::remove(tmp, ec);
    // HDF5 names the temporary; the user knows the file they asked for.
    std::string msg = e.what();
    for (size_t at = msg.find(tmp); at != std::string::npos; at = msg.find(tmp, at + path.size()))
      msg.replace(at, tmp.size(), path);
    if (dynamic_cast<const EnvironmentError*>(&e)) throw EnvironmentError(msg);
    if (dynamic_cast<const DataError*>(&e)) throw DataError(msg);
    throw;
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
}

Dataset read_dataset(const std::string& path) {
  return read_isolated(path, "reading the feature file", [&] { return load(path); },
                       reader_isolation());
}

std::string compute_fingerprint(const std::string& path) {
  return read_isolated(path, "fingerprinting the feature file", [&] {
    h5::File f = h5::File::open(path);
    return fingerprint_of(f.id());
  }, reader_isolation());
}

std::string describe_file(const std::string& path) {
  Dataset ds = read_dataset(path);
  std::ostringstream o;
  o << "file:          " << path << "\n";
  o << "dataset:       " << ds.name << "\n";
  o << "schema:        vlb-features v" << kSchemaVersion << "\n";
  o << "fingerprint:   " << ds.fingerprint << "\n";
  auto attr = [&](const char* k) {
    auto it = ds.attrs.find(k);
    return it == ds.attrs.end() ? std::string("-") : it->second;
  };
  o << "feature_model: " << attr("feature_model") << "\n";
  o << fmt::format("images:        N={} D={} stored as {}{}{}\n", ds.num_images(), ds.dim(),
                   ds.feature_dtype, ds.image_ids.empty() ? "" : ", with ids",
                   ds.labels.defined() ? ", with multi-labels [N, C]" : "");
  if (ds.feature_maps.defined())
    o << fmt::format("feature maps:  [N, {}x{}, {}]\n", ds.map_height, ds.map_width,
                     ds.feature_maps.size(2));
  if (ds.partial_labels.defined())
    o << fmt::format("partial labels: keep_prob={} seed={}, {:.1f}% of entries known\n",
                     ds.partial_keep_prob, ds.partial_seed,
                     100.0 * ds.partial_labels.ne(0).sum().item<double>() /
                         std::max<int64_t>(1, ds.partial_labels.numel()));
  o << "classes:       " << ds.num_classes();
  for (size_t i = 0; i < ds.class_names.size() && i < 5; ++i)
    o << (i ? ", " : " (") << ds.class_names[i];
  if (!ds.class_names.empty()) o << (ds.class_names.size() > 5 ? ", ...)" : ")");
  o << "\n";
  for (const auto& [kind, t] : ds.descriptors)
    o << fmt::format("descriptors:   {} [{}, {}]\n", kind, t.size(0), t.size(1));
  for (const auto& [name, idx] : ds.splits) {
    at::Tensor lab = ds.label.index_select(0, idx);
    int64_t ncls = lab.numel() ? std::get<0>(at::_unique(lab.masked_select(lab >= 0))).numel() : 0;
    o << fmt::format("split:         {} {} rows, {} classes\n", name, idx.numel(), ncls);
  }
  for (const auto& [name, idx] : ds.class_splits)
    o << fmt::format("class_split:   {} {} classes\n", name, idx.numel());
  if (ds.texts.size() > 0) {
    int64_t with_cls = (ds.texts.cls >= 0).sum().item<int64_t>();
    int64_t with_img = (ds.texts.image >= 0).sum().item<int64_t>();
    o << fmt::format("texts:         T={} ({} class prompts, {} captions)\n", ds.texts.size(),
                     with_cls, with_img);
  }
  for (const auto& [name, t] : ds.texts.towers)
    o << fmt::format("text tower:    {} [{}, {}]\n", name, t.size(0), t.size(1));
  if (ds.texts.parent.defined())
    o << fmt::format("sentences:     {} rows with a parent caption\n", (ds.texts.parent >= 0).sum().item<int64_t>());
  for (const auto& [name, g] : ds.groups)
    o << fmt::format("group:         {} kind={} {} items x {} images x {} texts, {} subsets\n", name,
                     g.kind, g.size(), g.image.size(1), g.text.size(1), g.subset_names.size());
  for (const auto& [k, v] : ds.attrs)
    if (k != "feature_model") o << fmt::format("attr {}: {}\n", k, v);
  return o.str();
}

}  // namespace vlb
