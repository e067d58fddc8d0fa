# Writes OUT, a C++ source defining the embedded default configuration and
# policy from the YAML files CONFIG and POLICY. Run with cmake -P.
file(READ ${CONFIG} config_text)
file(READ ${POLICY} policy_text)
file(WRITE ${OUT}
"// Generated from deploy/vigie.yaml and deploy/policy.yaml; do not edit.\n"
"namespace vigie::services {\n"
"extern const char kEmbeddedDefaultConfig[];\n"
"extern const char kEmbeddedDefaultPolicy[];\n"
"const char kEmbeddedDefaultConfig[] = R\"vigie_yaml(${config_text})vigie_yaml\";\n"
"const char kEmbeddedDefaultPolicy[] = R\"vigie_yaml(${policy_text})vigie_yaml\";\n"
"}  // namespace vigie::services\n")
