// The schemas of docs/anchorctl-json.md and a validator for the subset of
// JSON Schema they use, so that the tests hold anchorctl's output to the
// page a program's author reads.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace anchorctl::testing {

// The blocks marked "<!-- schema: NAME -->" in the page; "definitions"
// resolves "$ref": "#/definitions/X".
class SchemaPage {
  public:
    // Reads ANCHORD_SOURCE_DIR/docs/anchorctl-json.md; throws when a marked
    // block is missing or not JSON.
    static const SchemaPage& load();

    const nlohmann::json& schema(const std::string& name) const;
    // Every way `document` departs from schema `name`, as "/path: what";
    // empty when it conforms.
    std::vector<std::string> violations(const nlohmann::json& document,
                                        const std::string& name) const;

  private:
    nlohmann::json schemas_ = nlohmann::json::object();
};

}  // namespace anchorctl::testing
