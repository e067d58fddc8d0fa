#pragma once

// vigiectl's command-line flags (defined in vigiectl_flags.cc), for the
// files of its subcommands.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/time/time.h"

ABSL_DECLARE_FLAG(std::string, tls_ca);
ABSL_DECLARE_FLAG(std::string, tls_cert);
ABSL_DECLARE_FLAG(std::string, tls_key);
ABSL_DECLARE_FLAG(std::string, tls_server_name);
ABSL_DECLARE_FLAG(std::string, token_file);
ABSL_DECLARE_FLAG(std::string, server);
ABSL_DECLARE_FLAG(absl::Duration, connect_timeout);
ABSL_DECLARE_FLAG(absl::Duration, timeout);
ABSL_DECLARE_FLAG(std::string, file);
ABSL_DECLARE_FLAG(std::string, format);
ABSL_DECLARE_FLAG(std::string, model);
ABSL_DECLARE_FLAG(std::string, model_version);
ABSL_DECLARE_FLAG(std::string, id_column);
ABSL_DECLARE_FLAG(std::string, time_column);
ABSL_DECLARE_FLAG(std::string, score_column);
ABSL_DECLARE_FLAG(double, score_scale);
ABSL_DECLARE_FLAG(std::string, decision_column);
ABSL_DECLARE_FLAG(std::optional<double>, decision_threshold);
ABSL_DECLARE_FLAG(std::string, label_column);
ABSL_DECLARE_FLAG(std::vector<std::string>, group_columns);
ABSL_DECLARE_FLAG(std::string, outcome_delay);
ABSL_DECLARE_FLAG(std::vector<std::string>, numeric_features);
ABSL_DECLARE_FLAG(std::vector<std::string>, categorical_features);
ABSL_DECLARE_FLAG(std::string, energy_column);
ABSL_DECLARE_FLAG(std::string, latency_column);
ABSL_DECLARE_FLAG(std::string, hardware_class_column);
ABSL_DECLARE_FLAG(int, batch_size);
ABSL_DECLARE_FLAG(int64_t, n);
ABSL_DECLARE_FLAG(uint64_t, seed);
ABSL_DECLARE_FLAG(double, bias);
ABSL_DECLARE_FLAG(std::string, from);
ABSL_DECLARE_FLAG(std::string, to);
ABSL_DECLARE_FLAG(std::string, last);
ABSL_DECLARE_FLAG(bool, since_reference);
ABSL_DECLARE_FLAG(bool, model_wide);
ABSL_DECLARE_FLAG(bool, all);
ABSL_DECLARE_FLAG(bool, yes);
ABSL_DECLARE_FLAG(bool, refreshes);
ABSL_DECLARE_FLAG(std::string, fingerprint);
ABSL_DECLARE_FLAG(std::string, since);
ABSL_DECLARE_FLAG(int, limit);
ABSL_DECLARE_FLAG(std::vector<std::string>, match);
ABSL_DECLARE_FLAG(std::string, duration);
ABSL_DECLARE_FLAG(std::string, until);
ABSL_DECLARE_FLAG(std::string, starts);
ABSL_DECLARE_FLAG(std::string, by);
ABSL_DECLARE_FLAG(std::string, comment);
ABSL_DECLARE_FLAG(std::string, id);
ABSL_DECLARE_FLAG(uint32_t, reference_version);
ABSL_DECLARE_FLAG(std::string, out);
ABSL_DECLARE_FLAG(std::string, description);