// llmtune serve [--runs DIR] [--host 127.0.0.1] [--port 8080]
//     The dashboard: experiments, their trials, learning curves and comparisons in a browser,
//     read from the experiment store (read-only) and updated while experiments run.
#include "cli/serve.h"

#include <cstdio>

#include "cli/common.h"
#include "cli/verbs.h"
#include "track/store.h"

namespace llmtune::cli {

void serve_dashboard(const server::ServeOptions& options) {
  server::Dashboard dashboard(options);
  dashboard.bind();
  std::printf("llmtune dashboard: %s (store %s, read-only; Ctrl-C stops it)\n",
              dashboard.url().c_str(), track::store_path(options.runs).c_str());
  if (!server::is_loopback(options.host)) {
    std::fprintf(stderr,
                 "warning: listening on %s: anyone who can reach this machine on that address "
                 "can read the experiments\n",
                 options.host.c_str());
  }
  std::fflush(stdout);
  dashboard.run();
}

void add_serve(CLI::App& app) {
  auto o = std::make_shared<server::ServeOptions>();
  CLI::App* s = app.add_subcommand("serve", "The dashboard: watch and compare experiments");
  s->footer(
      "Examples:\n"
      "  llmtune serve                         (runs/llmtune.db at http://127.0.0.1:8080/)\n"
      "  llmtune serve --runs runs/demo/runs --port 8090\n"
      "  llmtune serve --host 0.0.0.0          (other machines too: anyone who reaches it reads)");
  s->add_option("--runs", o->runs, "Directory of the store")->capture_default_str();
  s->add_option("--host", o->host, "Address to listen on")->capture_default_str();
  s->add_option("--port", o->port, "Port (0: any free port)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  s->callback([o] { serve_dashboard(*o); });
}

}  // namespace llmtune::cli
