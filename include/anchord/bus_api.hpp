// The names of anchord's D-Bus API that code has to spell out, spelled once
// for the daemon, anchorctl, the benchmark and the tests. Plain C strings,
// since sdbus-c++ 1.2 takes std::string everywhere. The introspection XML
// (systemd/io.github.anchord1.xml) is the source: the generated adaptor and
// proxy carry the interfaces' names too, and a test compares these with them
// and with the XML.
#pragma once

namespace anchord::bus_api {

inline constexpr const char* kBusName = "io.github.anchord1";
inline constexpr const char* kManagerPath = "/io/github/anchord1";
// A keyring's object is this prefix and the keyring's name:
// "/io/github/anchord1/keyring/ima".
inline constexpr const char* kKeyringPathPrefix = "/io/github/anchord1/keyring/";
inline constexpr const char* kManagerInterface = "io.github.anchord1.Manager";
inline constexpr const char* kKeyringInterface = "io.github.anchord1.Keyring";

// The keys of Enroll's options (a{sv}); both take a boolean (b).
inline constexpr const char* kPartialOption = "partial";
inline constexpr const char* kBriefOption = "brief";

}  // namespace anchord::bus_api
