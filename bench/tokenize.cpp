// Encode throughput of llmtune's tokenizer.json implementation against python3-sentencepiece
// (the library that made Llama's tokenizer) on the same corpus, alternating in one run. Both
// encode without BOS, one thread.
//
//   build/bench/tokenize --tokenizer ../shared/fixtures/llama2-tokenizer
//                        --corpus build/text/corpus.jsonl --peer bench/tokenize_peer.py
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/peer.h"
#include "core/error.h"
#include "text/tokenizer.h"

using namespace llmtune;

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string dir, corpus, peer, python = "/usr/bin/python3";
    int rounds = 7;
    for (int i = 1; i + 1 < argc; i += 2) {
      const std::string k = argv[i], v = argv[i + 1];
      if (k == "--tokenizer")
        dir = v;
      else if (k == "--corpus")
        corpus = v;
      else if (k == "--peer")
        peer = v;
      else if (k == "--python")
        python = v;
      else if (k == "--rounds")
        rounds = std::stoi(v);
      else
        throw Error(str("unknown option ", k));
    }
    if (dir.empty() || corpus.empty() || peer.empty()) {
      throw Error("usage: tokenize --tokenizer DIR --corpus FILE.jsonl --peer tokenize_peer.py");
    }
    std::vector<std::string> texts;
    std::ifstream in(corpus);
    if (!in) throw Error(str("cannot open ", corpus));
    size_t bytes = 0;
    for (std::string line; std::getline(in, line);) {
      texts.push_back(nlohmann::json::parse(line).at("text").get<std::string>());
      bytes += texts.back().size();
    }
    text::TokenizerOptions options;
    options.backend = "tokenizer.json";
    const auto t = text::tokenizer_load(dir, options);
    text::EncodeOptions e;
    e.add_special_tokens = false;
    e.parse_special = false;
    bench::Peer p({python, peer, dir + "/tokenizer.model", corpus});
    auto run = [&](const char* mode) {
      const std::string reply = p.ask(mode);  // "<seconds> <tokens>"
      return std::pair<double, long>{std::stod(reply),
                                     std::stol(reply.substr(reply.find(' ') + 1))};
    };
    std::vector<double> ours, loop, batch;
    long our_tokens = 0, peer_tokens = 0;
    for (int r = 0; r < rounds + 1; ++r) {
      const double t0 = now();
      long n = 0;
      for (const std::string& s : texts) n += static_cast<long>(t->encode(s, e).size());
      const double dt = now() - t0;
      const auto [lt, ln] = run("loop");
      const auto [bt, bn] = run("batch");
      if (r == 0) continue;  // warm-up
      ours.push_back(dt);
      loop.push_back(lt);
      batch.push_back(bt);
      our_tokens = n;
      peer_tokens = bn;
    }
    const double mb = bytes / 1e6;
    std::printf("tokenize: %zu texts, %.2f MB, tokenizer %s, %d rounds (medians)\n", texts.size(),
                mb, dir.c_str(), rounds);
    std::printf("%-40s %8.3f s %8.2f MB/s %10ld tokens\n", "llmtune tokenizer.json (1 thread)",
                bench::median(ours), mb / bench::median(ours), our_tokens);
    std::printf("%-40s %8.3f s %8.2f MB/s\n", "sentencepiece, python loop", bench::median(loop),
                mb / bench::median(loop));
    std::printf("%-40s %8.3f s %8.2f MB/s %10ld tokens\n", "sentencepiece, batch (num_threads=1)",
                bench::median(batch), mb / bench::median(batch), peer_tokens);
    std::printf("ratio llmtune / sentencepiece: %.2fx (loop), %.2fx (batch)\n",
                bench::median(loop) / bench::median(ours),
                bench::median(batch) / bench::median(ours));
    if (our_tokens != peer_tokens) {  // the shared tokenizer.json lacks U+2028 (id 31353)
      std::printf("note: token counts differ by %ld (see tests/text/README.md on U+2028)\n",
                  our_tokens - peer_tokens);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tokenize: %s\n", e.what());
    return 1;
  }
  return 0;
}
