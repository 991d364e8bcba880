// Preemption by signal, as a scheduler that preempts a job expects: the first SIGTERM or SIGINT
// asks the process to stop at its next step boundary (a training loop saves a checkpoint there
// and exits cleanly); a second one ends it at once. Ending at once corrupts nothing, because
// every file llmtune writes is written whole to a temporary name and renamed into place.
//
// A process that launches a child (the experiment runner) forwards each signal to it instead,
// so the child sees exactly the signals sent, whether to the parent or to the terminal's group.
#pragma once

#include <sys/types.h>

namespace llmtune {

// Installs the handlers for SIGTERM and SIGINT (idempotent).
void interrupt_install();

// 0, or the first signal received since interrupt_install.
int interrupt_requested();

// While a child is added (and not yet removed), signals are forwarded to it rather than handled
// here; the first one is still recorded, so the launcher knows to stop launching. Several
// children may be added at once (trials run in parallel; at most 64): each signal goes to all.
void interrupt_forward_add(pid_t child);
void interrupt_forward_remove(pid_t child);

}  // namespace llmtune
