// The SugarCrepe converter (vlb/datasets/sugarcrepe.h).
#include "vlb/datasets/sugarcrepe.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "vlb/core/error.h"
#include "vlb/core/sha256.h"
#include "vlb/datasets/feature_store.h"
#include "vlb/datasets/hdf5.h"
#include "vlb/datasets/isolated_read.h"
#include "vlb/datasets/npy.h"

namespace fs = std::filesystem;

namespace vlb {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw DataError(path, "", "cannot open file");
  return std::string(std::istreambuf_iterator<char>(f), {});
}

std::vector<std::string> read_keys(const std::string& path) {
  const std::string text = slurp(path);
  std::vector<std::string> keys;
  if (path.size() >= 5 && path.substr(path.size() - 5) == ".json") {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text);
    } catch (const std::exception& e) {
      throw DataError(path, "", std::string("not valid JSON: ") + e.what());
    }
    if (!j.is_array()) throw DataError(path, "", "expected a JSON list of strings");
    for (size_t i = 0; i < j.size(); ++i) {
      if (!j[i].is_string()) throw DataError(path, fmt::format("[{}]", i), "expected a string");
      keys.push_back(j[i].get<std::string>());
    }
    return keys;
  }
  size_t b = 0;
  while (b < text.size()) {
    size_t e = text.find('\n', b);
    if (e == std::string::npos) e = text.size();
    std::string line = text.substr(b, e - b);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    keys.push_back(line);
    b = e + 1;
  }
  return keys;
}

struct Table {
  std::unordered_map<std::string, int64_t> row;
  at::Tensor features;
  std::string file;
};

Table make_table(const std::string& file, std::vector<std::string> keys, at::Tensor feats) {
  if (feats.dim() != 2) throw DataError(file, "", "expected features [n, D]");
  if (static_cast<int64_t>(keys.size()) != feats.size(0))
    throw DataError(file, "", fmt::format("{} keys for {} feature rows", keys.size(), feats.size(0)));
  Table t;
  t.file = file;
  t.features = feats.to(torch::kFloat);
  for (size_t i = 0; i < keys.size(); ++i)
    if (!t.row.emplace(keys[i], static_cast<int64_t>(i)).second)
      throw DataError(file, fmt::format("key {}", i), "duplicate key \"" + keys[i] + "\"");
  return t;
}

std::pair<Table, Table> load_tables(const EmbeddingTableOptions& o) {
  if (!o.h5.empty()) {
    auto read = [&]() -> std::pair<Table, Table> {
      h5::ErrorGuard guard;
      h5::File f = h5::File::open(o.h5);
      auto need = [&](const char* p) {
        if (!h5::is_dataset(f.id(), p))
          throw DataError(o.h5, p, "missing; an embedding table holds image_keys, image_features, "
                                   "text_keys, text_features");
      };
      for (const char* p : {"/image_keys", "/image_features", "/text_keys", "/text_features"}) need(p);
      return {make_table(o.h5 + ":/image_features", h5::read_strings(f.id(), "/image_keys"),
                         h5::read_array(f.id(), "/image_features")),
              make_table(o.h5 + ":/text_features", h5::read_strings(f.id(), "/text_keys"),
                         h5::read_array(f.id(), "/text_features"))};
    };
    return read_isolated(o.h5, "reading the embedding table", read, reader_isolation());
  }
  for (const auto* s : {&o.image_features, &o.image_keys, &o.text_features, &o.text_keys})
    if (s->empty())
      throw ConfigError("sugarcrepe: give --table FILE.h5, or all of --image-features, "
                        "--image-keys, --text-features and --text-keys");
  return {make_table(o.image_features, read_keys(o.image_keys), read_npy(o.image_features)),
          make_table(o.text_features, read_keys(o.text_keys), read_npy(o.text_features))};
}

std::string quoted_first(const std::vector<std::string>& v, size_t n) {
  std::string out;
  for (size_t i = 0; i < v.size() && i < n; ++i) {
    std::string k = v[i];
    std::replace(k.begin(), k.end(), '\n', ' ');
    out += (i ? ", \"" : "\"") + k + "\"";
  }
  if (v.size() > n) out += ", ...";
  return out;
}

}  // namespace

const std::vector<std::string>& sugarcrepe_subsets() {
  static const std::vector<std::string> s = {"add_obj", "add_att", "replace_obj", "replace_att",
                                             "replace_rel", "swap_obj", "swap_att"};
  return s;
}

Dataset convert_sugarcrepe(const ConvertSugarCrepeOptions& opts) {
  if (opts.output.empty()) throw ConfigError("sugarcrepe: --out is required");
  const std::vector<std::string> subsets = opts.subsets.empty() ? sugarcrepe_subsets() : opts.subsets;
  struct Item {
    std::string file, pos, neg;
    int64_t subset;
  };
  std::vector<Item> items;
  nlohmann::json sources = nlohmann::json::array();
  for (size_t s = 0; s < subsets.size(); ++s) {
    const std::string path = (fs::path(opts.dir) / (subsets[s] + ".json")).string();
    if (!fs::exists(path))
      throw DataError(path, "", "missing (expected the official SugarCrepe file " + subsets[s] + ".json)");
    const std::string text = slurp(path);
    sources.push_back({{"path", path}, {"sha256", sha256_hex(text)}});
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text);
    } catch (const std::exception& e) {
      throw DataError(path, "", std::string("not valid JSON: ") + e.what());
    }
    if (!j.is_object()) throw DataError(path, "", "expected an object keyed \"0\"..\"n-1\"");
    // Items in numeric key order ("0", "1", ..., "10", ...).
    std::vector<std::pair<long long, std::string>> keys;
    for (auto it = j.begin(); it != j.end(); ++it) {
      try {
        size_t used = 0;
        long long k = std::stoll(it.key(), &used);
        if (used != it.key().size()) throw std::invalid_argument("");
        keys.emplace_back(k, it.key());
      } catch (const std::exception&) {
        throw DataError(path, it.key(), "expected a numeric item key");
      }
    }
    std::sort(keys.begin(), keys.end());
    for (const auto& [k, key] : keys) {
      const auto& v = j[key];
      for (const char* f : {"filename", "caption", "negative_caption"})
        if (!v.is_object() || !v.contains(f) || !v[f].is_string())
          throw DataError(path, key, std::string("expected a string field \"") + f + "\"");
      items.push_back({v["filename"].get<std::string>(), v["caption"].get<std::string>(),
                       v["negative_caption"].get<std::string>(), static_cast<int64_t>(s)});
    }
  }
  auto [images, texts] = load_tables(opts.table);
  if (images.features.size(1) != texts.features.size(1))
    throw DataError(texts.file, "", fmt::format("text embeddings have D={} but image embeddings D={}",
                                                texts.features.size(1), images.features.size(1)));

  std::unordered_map<std::string, int64_t> image_row;
  std::vector<std::string> image_ids;
  std::vector<int64_t> img_src, txt_src, g_img, g_txt, g_sub;
  std::vector<std::string> strings, miss_img, miss_txt;
  std::unordered_map<std::string, bool> reported;
  auto lookup = [&](const Table& t, const std::string& k, std::vector<std::string>& miss) -> int64_t {
    auto it = t.row.find(k);
    if (it != t.row.end()) return it->second;
    if (!reported[k]) {
      reported[k] = true;
      miss.push_back(k);
    }
    return -1;
  };
  for (const auto& it : items) {
    auto ins = image_row.emplace(it.file, static_cast<int64_t>(image_ids.size()));
    if (ins.second) {
      image_ids.push_back(it.file);
      img_src.push_back(lookup(images, it.file, miss_img));
    }
    g_img.push_back(ins.first->second);
    for (const std::string* c : {&it.pos, &it.neg}) {
      g_txt.push_back(static_cast<int64_t>(strings.size()));
      strings.push_back(*c);
      txt_src.push_back(lookup(texts, *c, miss_txt));
    }
    g_sub.push_back(it.subset);
  }
  if (!miss_img.empty())
    throw DataError(images.file, "", fmt::format("{} of {} image keys are missing, first: {}", miss_img.size(),
                                                 image_ids.size(), quoted_first(miss_img, 5)));
  if (!miss_txt.empty())
    throw DataError(texts.file, "", fmt::format("{} captions are missing, first: {}", miss_txt.size(),
                                                quoted_first(miss_txt, 5)));
  const int64_t N = static_cast<int64_t>(image_ids.size()), T = static_cast<int64_t>(strings.size());
  const int64_t G = static_cast<int64_t>(items.size());
  Dataset ds;
  ds.name = opts.dataset_name;
  ds.class_names = {"image"};
  ds.features = images.features.index_select(0, torch::tensor(img_src, torch::kLong));
  ds.image_ids = image_ids;
  ds.label = torch::full({N}, -1, torch::kLong);
  ds.splits["test"] = torch::arange(N, torch::kLong);
  ds.texts.features = texts.features.index_select(0, torch::tensor(txt_src, torch::kLong));
  ds.texts.strings = strings;
  ds.texts.image = torch::full({T}, -1, torch::kLong);
  ds.texts.cls = torch::full({T}, -1, torch::kLong);
  ds.texts.source = torch::tensor(std::vector<int64_t>(T, 1), torch::kLong).to(torch::kChar);
  ds.texts.source.slice(0, 1, T, 2).fill_(2);  // every second row is a negative caption
  ItemGroup g;
  g.kind = "sugarcrepe";
  g.image = torch::tensor(g_img, torch::kLong).reshape({G, 1});
  g.text = torch::tensor(g_txt, torch::kLong).reshape({G, 2});
  g.subset = torch::tensor(g_sub, torch::kLong);
  g.subset_names = subsets;
  ds.groups["sugarcrepe"] = std::move(g);
  ds.attrs["feature_model"] = opts.feature_model;
  ds.attrs["created_by"] = "vlb convert sugarcrepe 1";
  ds.attrs["source_files"] = sources.dump();
  write_dataset(ds, opts.output);
  return ds;
}

}  // namespace vlb
