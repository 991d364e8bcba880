#include "config/keys.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <regex>
#include <sstream>

#include "core/error.h"
#include "core/files.h"

namespace llmtune::config {

using nlohmann::json;

std::string key_join(const std::string& parent, const std::string& child) {
  return parent.empty() ? child : parent + "." + child;
}

int key_distance(std::string_view a, std::string_view b) {
  auto norm = [](char c) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return c == '-' ? '_' : c;
  };
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<int>> d(n + 1, std::vector<int>(m + 1));
  for (size_t i = 0; i <= n; ++i) d[i][0] = static_cast<int>(i);
  for (size_t j = 0; j <= m; ++j) d[0][j] = static_cast<int>(j);
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      const int cost = norm(a[i - 1]) == norm(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && norm(a[i - 1]) == norm(b[j - 2]) && norm(a[i - 2]) == norm(b[j - 1])) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[n][m];
}

std::string key_closest(std::string_view key, const std::vector<std::string_view>& candidates) {
  // A typo changes about one character in four; a truncated or extended name ("lora_target" for
  // "lora_target_modules") is also a likely intent once the common part is long enough.
  const int limit = std::max(1, std::min(3, static_cast<int>(key.size()) / 4 + 1));
  std::string best;
  int best_distance = std::numeric_limits<int>::max();
  for (std::string_view c : candidates) {
    const int d = key_distance(key, c);
    const size_t shorter = std::min(key.size(), c.size());
    const bool prefix = shorter >= 5 && key.substr(0, shorter) == c.substr(0, shorter);
    if ((d <= limit || prefix) && d < best_distance) {
      best = std::string(c);
      best_distance = d;
    }
  }
  return best;
}

json yaml_plain_scalar(const std::string& s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  // No number a config holds is this long, and libstdc++'s regex matching recurses once per
  // character: a 100,000-character scalar would overflow the stack.
  if (s.size() > 256) return s;
  static const std::regex kInt("[-+]?[0-9]+");
  static const std::regex kHex("0x[0-9a-fA-F]+");
  static const std::regex kOct("0o[0-7]+");
  static const std::regex kFloat("[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  static const std::regex kInf("[-+]?\\.(inf|Inf|INF)");
  static const std::regex kNan("\\.(nan|NaN|NAN)");
  if (std::regex_match(s, kInt)) {
    errno = 0;
    const long long v = std::strtoll(s.c_str(), nullptr, 10);
    if (errno != ERANGE) return static_cast<int64_t>(v);
    return std::strtod(s.c_str(), nullptr);
  }
  if (std::regex_match(s, kHex)) return static_cast<int64_t>(std::strtoull(s.c_str(), nullptr, 16));
  if (std::regex_match(s, kOct)) {
    return static_cast<int64_t>(std::strtoull(s.c_str() + 2, nullptr, 8));
  }
  if (std::regex_match(s, kFloat)) return std::strtod(s.c_str(), nullptr);
  if (std::regex_match(s, kInf)) {
    return s[0] == '-' ? -std::numeric_limits<double>::infinity()
                       : std::numeric_limits<double>::infinity();
  }
  if (std::regex_match(s, kNan)) return std::numeric_limits<double>::quiet_NaN();
  return s;
}

namespace {

std::string origin_line(const std::string& label, const YAML::Mark& mark) {
  return str(label, ":", mark.line + 1);
}

// Limits on what a YAML document may become. Aliases (*name) repeat what an anchor (&name)
// names, so a few lines can stand for billions of values ("billion laughs"); configs have a few
// hundred values and nest a few levels.
constexpr int64_t kMaxYamlValues = 100000;
constexpr int kMaxYamlDepth = 64;

struct YamlWalk {
  const std::string& label;
  std::vector<KeyOrigin>& keys;
  int64_t values = 0;
};

json yaml_convert(const YAML::Node& node, const std::string& path, YamlWalk& walk, int depth) {
  const std::string& label = walk.label;
  if (++walk.values > kMaxYamlValues) {
    throw Error(str(origin_line(label, node.Mark()), ": the YAML expands to more than ",
                    kMaxYamlValues,
                    " values (aliases * repeat what their anchor & names); an experiment config "
                    "needs far fewer: the file is damaged or hostile"));
  }
  if (depth > kMaxYamlDepth) {
    throw Error(str(origin_line(label, node.Mark()), ": YAML nested deeper than ", kMaxYamlDepth,
                    " levels at '", path, "'; an experiment config needs a few"));
  }
  std::vector<KeyOrigin>& keys = walk.keys;
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return nullptr;
    case YAML::NodeType::Scalar:
      // yaml-cpp tags quoted and block scalars "!", plain ones "?".
      if (node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str") return node.Scalar();
      {
        json value = yaml_plain_scalar(node.Scalar());
        // JSON (the store, the stored config) has no infinity or NaN: they would come back as
        // null, which means "the default". No setting takes them.
        if (value.is_number_float() && !std::isfinite(value.get<double>())) {
          throw Error(str(origin_line(label, node.Mark()), ": '", path, "' is ", node.Scalar(),
                          "; give a finite number"));
        }
        return value;
      }
    case YAML::NodeType::Sequence: {
      json out = json::array();
      size_t i = 0;
      for (const YAML::Node& item : node) {
        out.push_back(yaml_convert(item, str(path, "[", i++, "]"), walk, depth + 1));
      }
      return out;
    }
    case YAML::NodeType::Map: {
      json out = json::object();
      for (auto it = node.begin(); it != node.end(); ++it) {
        if (!it->first.IsScalar()) {
          throw Error(str(origin_line(label, it->first.Mark()),
                          ": invalid YAML: a key must be a plain name, not a list or a map"));
        }
        const std::string name = it->first.Scalar();
        const std::string full = key_join(path, name);
        if (out.contains(name)) {
          std::string first;
          for (const KeyOrigin& k : keys) {
            if (k.key == full) first = k.origin;
          }
          throw Error(str(origin_line(label, it->first.Mark()), ": duplicate key '", full,
                          "' (first written at ", first, "); keep one"));
        }
        keys.push_back({full, origin_line(label, it->first.Mark())});
        out[name] = yaml_convert(it->second, full, walk, depth + 1);
      }
      return out;
    }
  }
  return nullptr;
}

// Whether the text holds more than one YAML document. The parser is asked for at most two:
// yaml-cpp 0.7's LoadAll loops forever on some inputs (",#!#!" found by fuzz/experiment;
// jbeder/yaml-cpp#1040).
class IgnoreEvents : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

bool several_documents(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  IgnoreEvents events;
  int documents = 0;
  while (documents < 2 && parser.HandleNextDocument(events)) ++documents;
  return documents > 1;
}

}  // namespace

YamlJson yaml_to_json(const std::string& text, const std::string& label) {
  YAML::Node doc;
  try {
    doc = YAML::Load(text);
    if (several_documents(text)) {
      throw Error(str(label,
                      ": invalid YAML: more than one document (separated by ---); an experiment "
                      "is one document"));
    }
  } catch (const YAML::DeepRecursion& e) {  // its message is yaml-cpp's "bad file"
    throw Error(str(label, ":", e.mark.line + 1, ": invalid YAML: nested deeper than ", e.depth(),
                    " levels; an experiment config needs a few"));
  } catch (const YAML::ParserException& e) {
    throw Error(str(label, ":", e.mark.line + 1, ": invalid YAML: ", e.msg));
  } catch (const YAML::Exception& e) {
    throw Error(str(label, ": invalid YAML: ", e.what()));
  }
  YamlJson out;
  YamlWalk walk{label, out.keys};
  out.value = yaml_convert(doc, "", walk, 0);
  return out;
}

Locator::Locator(std::string file, const std::vector<KeyOrigin>& keys) : file_(std::move(file)) {
  for (const KeyOrigin& k : keys) origins_[k.key] = k.origin;
}

std::string Locator::at(const std::string& key) const {
  std::string k = key;
  while (!k.empty()) {
    const auto it = origins_.find(k);
    if (it != origins_.end()) return it->second;
    const size_t cut = k.find_last_of(".[");
    if (cut == std::string::npos) break;
    k.resize(cut);
  }
  return file_;
}

void fail_at(const Locator& loc, const std::string& key, const std::string& message) {
  throw Error(str(loc.at(key), ": ", key, ": ", message));
}

void fail_unknown_key(const Locator& loc, const std::string& key,
                      const std::vector<std::string_view>& candidates,
                      const std::vector<std::string>& elsewhere) {
  const size_t dot = key.find_last_of('.');
  const std::string name = dot == std::string::npos ? key : key.substr(dot + 1);
  std::string message = str("unknown key '", key, "' in ", loc.at(key));
  const std::string near = key_closest(name, candidates);
  if (!near.empty()) throw Error(str(message, "; did you mean '", near, "'?"));
  for (const std::string& full : elsewhere) {
    const size_t d = full.find_last_of('.');
    if ((d == std::string::npos ? full : full.substr(d + 1)) == name) {
      throw Error(str(message, "; did you mean '", full, "'?"));
    }
  }
  if (!candidates.empty() && candidates.size() <= 16) {
    message += "; valid keys here: ";
    for (size_t i = 0; i < candidates.size(); ++i) {
      message += str(i ? ", " : "", candidates[i]);
    }
  }
  throw Error(message);
}

void check_keys(const json& map, const std::string& prefix,
                const std::vector<std::string_view>& known, const Locator& loc,
                const std::vector<std::string>& elsewhere) {
  for (const auto& [name, value] : map.items()) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      fail_unknown_key(loc, key_join(prefix, name), known, elsewhere);
    }
  }
}

std::string describe(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "nothing (null)";
    case json::value_t::boolean:
      return v.get<bool>() ? "true" : "false";
    case json::value_t::string: {
      const std::string s = v.get<std::string>();
      const bool numeric = yaml_plain_scalar(s).is_number();
      return str("the string \"", s, "\"", numeric ? " (remove the quotes for a number)" : "");
    }
    case json::value_t::array:
      return "a list";
    case json::value_t::object:
      return "a map";
    default:
      return v.dump();
  }
}

int64_t read_int(const json& v, const std::string& key, const Locator& loc) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e18) {
      return static_cast<int64_t>(d);
    }
  }
  fail_at(loc, key, str("expected an integer, got ", describe(v)));
}

double read_number(const json& v, const std::string& key, const Locator& loc) {
  if (v.is_number() && std::isfinite(v.get<double>())) return v.get<double>();
  if (v.is_number()) {  // a search value such as base^maxval can overflow
    fail_at(loc, key, str("is ", v.get<double>(), "; it must be a finite number"));
  }
  fail_at(loc, key, str("expected a number, got ", describe(v)));
}

bool read_bool(const json& v, const std::string& key, const Locator& loc) {
  if (v.is_boolean()) return v.get<bool>();
  fail_at(loc, key, str("expected true or false, got ", describe(v)));
}

std::string read_string(const json& v, const std::string& key, const Locator& loc) {
  if (v.is_string()) return v.get<std::string>();
  fail_at(loc, key, str("expected a string, got ", describe(v)));
}

const json& read_map(const json& v, const std::string& key, const Locator& loc) {
  if (v.is_object()) return v;
  fail_at(loc, key, str("expected a map of keys, got ", describe(v)));
}

std::string read_text_file(const std::string& path, const std::string& what) {
  try {
    return read_file(path);
  } catch (const OutOfMemory&) {
    throw;
  } catch (const Error& e) {
    std::string why = e.what();
    const std::string prefix = "cannot open " + path + ": ";
    if (why.starts_with(prefix)) why = why.substr(prefix.size());
    throw Error(str("cannot read ", what, " '", path, "': ", why));
  }
}

}  // namespace llmtune::config
