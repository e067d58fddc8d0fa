#pragma once

// vigiectl's alert subcommands: alerts, watch, history, silence, ack.

#include <set>
#include <string>

namespace vigie::tools {

int Alerts();
int Watch();
int History();
// `action`: create, list or expire; `set`: the flags given.
int Silence(const std::string& action, const std::set<std::string>& set);
int Acknowledge();

}  // namespace vigie::tools
