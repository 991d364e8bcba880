// The trial routes: a trial with its checkpoints and the commands that use them, its log.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "server/api.h"
#include "server/api_internal.h"

namespace llmtune::server {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string text_of(const json& hparams, const std::string& key) {
  const auto it = hparams.find(key);
  return it != hparams.end() && it->is_string() ? it->get<std::string>() : "";
}

// `llmtune generate` and `llmtune eval` for a checkpoint: the checkpoint itself for a full
// finetune; the trial's base model with the checkpoint as adapter for LoRA.
json checkpoint_commands(const json& hparams, const std::string& path) {
  const bool lora = hparams.value("lora", false);
  const std::string base = text_of(hparams, "model");
  std::string model = lora ? str("--model ", shell_quote(base), " --adapter ", shell_quote(path))
                           : str("--model ", shell_quote(path));
  const std::string tokenizer = text_of(hparams, "tokenizer");
  if (!tokenizer.empty()) model += " --tokenizer " + shell_quote(tokenizer);
  const std::string chat = text_of(hparams, "chat_template");
  if (!chat.empty()) model += " --chat-template " + shell_quote(chat);
  const std::string dataset = text_of(hparams, "dataset");
  std::error_code ec;
  const bool dir = !dataset.empty() && fs::is_directory(dataset, ec);
  const std::string records = dir ? (fs::path(dataset) / "test.jsonl").string() : dataset;
  json out = {{"generate", records.empty() ? str("llmtune generate ", model,
                                                 " --prompt 'How many rows are there?'")
                                           : str("llmtune generate ", model, " --dataset ",
                                                 shell_quote(records), " --index 0")}};
  if (!dataset.empty()) {
    out["eval"] = str("llmtune eval ", model, " --dataset ", shell_quote(dataset),
                      dir ? " --split test" : "");
  }
  return out;
}

std::string log_path(const track::TrialRow& t) {
  return t.directory.empty() ? "" : (fs::path(t.directory) / "trial.log").string();
}

}  // namespace

FileTail read_tail(const std::string& path, int64_t max_bytes) {
  FileTail out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    out.error = str("cannot open ", path, ": ", std::strerror(errno));
    return out;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    out.error = str(path, " is not a regular file");
    return out;
  }
  out.size = st.st_size;
  const int64_t from = std::max<int64_t>(0, out.size - max_bytes);
  out.truncated = from > 0;
  out.text.resize(static_cast<size_t>(out.size - from));
  size_t done = 0;
  while (done < out.text.size()) {
    const ssize_t n = ::pread(fd, out.text.data() + done, out.text.size() - done,
                              static_cast<off_t>(from + static_cast<int64_t>(done)));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  out.text.resize(done);
  return out;
}

std::string shell_quote(const std::string& s) {
  const bool plain = !s.empty() && s.find_first_not_of(
                                       "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                       "0123456789_./:=,+-@%") == std::string::npos;
  if (plain) return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

json api_trial(track::Store& store, int64_t id) {
  const std::optional<track::TrialRow> t = store.find_trial(id);
  if (!t) throw HttpError(404, str("no trial ", id, " in the store"));
  const track::ExperimentRow e = store.experiment(t->experiment_id);
  json out =
      trial_summary(*t, e, store.metrics_since(e.id, id, 0), store.checkpoints(e.id, "step", true));
  for (json& c : out["checkpoints"]) {
    if (c["state"] == "COMPLETED")  // a deleted one's files are gone
      c["commands"] = checkpoint_commands(out["hparams"], c["path"].get<std::string>());
  }
  out["experiment"] = experiment_summary(store, e);
  const std::string log = log_path(*t);
  std::error_code ec;
  out["log"] = {{"path", log}, {"exists", !log.empty() && fs::is_regular_file(log, ec)}};
  out["tensorboard"] =
      t->directory.empty() ? "" : str("tensorboard --logdir ", shell_quote(t->directory));
  return out;
}

json api_trial_log(track::Store& store, int64_t id) {
  const std::optional<track::TrialRow> t = store.find_trial(id);
  if (!t) throw HttpError(404, str("no trial ", id, " in the store"));
  const std::string path = log_path(*t);
  if (path.empty()) {
    throw HttpError(404, str("trial ", id, " has no recorded directory, so no log (it was run ",
                             "by an llmtune that did not record them)"));
  }
  const FileTail f = read_tail(path, kLogTailBytes);
  if (!f.error.empty()) throw HttpError(404, str("trial ", id, " has no log: ", f.error));
  return {{"path", path}, {"size", f.size}, {"truncated", f.truncated}, {"text", f.text}};
}

}  // namespace llmtune::server
