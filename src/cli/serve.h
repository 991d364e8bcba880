// The dashboard server as the CLI runs it (`llmtune serve`, `llmtune demo --serve`).
#pragma once

#include "server/http.h"

namespace llmtune::cli {

// Serves the dashboard over `options.runs` until the process is stopped; prints its address.
void serve_dashboard(const server::ServeOptions& options);

}  // namespace llmtune::cli
