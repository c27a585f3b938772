// logship-loggen: writes realistic nginx combined-format access logs for demos, tests and
// benchmarks.
//
//   logship-loggen --out access.log --start-epoch 1700000000 --minutes 30 --rate 20
//       --burst-at 15 --burst-minutes 5 --burst-rate 150 --burst-errors 0.3  (one line)
//   logship-loggen --out bench.log --lines 1000000       (steady, for benchmarks)
//
// Deterministic for a given --seed. Rates are requests per second of event time.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>

namespace {

const char* kPaths[] = {"/",          "/index.html", "/api/v1/orders", "/api/v1/users/42", "/static/app.js",
                        "/static/site.css", "/login", "/api/v1/cart?item=1337&qty=2", "/healthz", "/search?q=logs"};
const char* kAgents[] = {
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 13_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Safari/605.1.15",
    "curl/7.88.1", "kube-probe/1.28", "Go-http-client/1.1"};
const char* kVerbs[] = {"GET", "GET", "GET", "GET", "POST", "PUT", "DELETE"};
const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

struct Options {
  std::string out = "-";
  int64_t start_epoch = 1700000000;
  double minutes = 30;
  double rate = 20;
  double burst_at = -1;  // minutes after start
  double burst_minutes = 0;
  double burst_rate = 0;
  double burst_errors = 0.3;
  double errors = 0.01;
  long lines = -1;  // steady mode: exactly this many lines, 1000/s of event time
  unsigned seed = 42;
};

void Usage() {
  std::fprintf(stderr,
               "usage: logship-loggen [--out FILE] [--start-epoch S] [--minutes M] [--rate R]\n"
               "       [--burst-at M --burst-minutes M --burst-rate R --burst-errors F] [--errors F]\n"
               "       [--lines N] [--seed N]\n");
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        Usage();
        std::exit(2);
      }
      return argv[++i];
    };
    std::string a = argv[i];
    if (a == "--out") o.out = next();
    else if (a == "--start-epoch") o.start_epoch = std::atoll(next());
    else if (a == "--minutes") o.minutes = std::atof(next());
    else if (a == "--rate") o.rate = std::atof(next());
    else if (a == "--burst-at") o.burst_at = std::atof(next());
    else if (a == "--burst-minutes") o.burst_minutes = std::atof(next());
    else if (a == "--burst-rate") o.burst_rate = std::atof(next());
    else if (a == "--burst-errors") o.burst_errors = std::atof(next());
    else if (a == "--errors") o.errors = std::atof(next());
    else if (a == "--lines") o.lines = std::atol(next());
    else if (a == "--seed") o.seed = static_cast<unsigned>(std::atol(next()));
    else {
      Usage();
      return 2;
    }
  }
  FILE* out = o.out == "-" ? stdout : std::fopen(o.out.c_str(), "ab");
  if (out == nullptr) {
    std::perror(o.out.c_str());
    return 1;
  }
  std::mt19937_64 rng(o.seed);
  std::uniform_real_distribution<double> u(0, 1);
  auto pick = [&](auto& arr) { return arr[rng() % (sizeof(arr) / sizeof(arr[0]))]; };
  char line[1024];
  long written = 0;
  auto emit = [&](int64_t epoch, bool error) {
    std::tm tm;
    time_t t = static_cast<time_t>(epoch);
    gmtime_r(&t, &tm);
    int status = error ? (u(rng) < 0.7 ? 502 : 500) : (u(rng) < 0.9 ? 200 : (u(rng) < 0.5 ? 304 : 404));
    unsigned ip = static_cast<unsigned>(rng());
    int n = std::snprintf(line, sizeof line,
                          "%u.%u.%u.%u - - [%02d/%s/%04d:%02d:%02d:%02d +0000] \"%s %s HTTP/1.1\" %d %d \"-\" \"%s\"\n",
                          10 + (ip >> 24) % 200, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255, tm.tm_mday,
                          kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, pick(kVerbs),
                          pick(kPaths), status, status == 304 ? 0 : static_cast<int>(200 + rng() % 20000),
                          pick(kAgents));
    std::fwrite(line, 1, static_cast<size_t>(n), out);
    ++written;
  };
  if (o.lines >= 0) {
    for (long i = 0; i < o.lines; ++i) emit(o.start_epoch + i / 1000, u(rng) < o.errors);
  } else {
    int64_t seconds = static_cast<int64_t>(o.minutes * 60);
    double carry = 0;
    for (int64_t s = 0; s < seconds; ++s) {
      double minute = static_cast<double>(s) / 60.0;
      bool burst = o.burst_at >= 0 && minute >= o.burst_at && minute < o.burst_at + o.burst_minutes;
      double rate = burst ? o.burst_rate : o.rate;
      double err = burst ? o.burst_errors : o.errors;
      carry += rate;
      int count = static_cast<int>(std::floor(carry));
      carry -= count;
      for (int k = 0; k < count; ++k) emit(o.start_epoch + s, u(rng) < err);
    }
  }
  if (out != stdout) std::fclose(out);
  std::fprintf(stderr, "logship-loggen: wrote %ld lines to %s\n", written, o.out.c_str());
  return 0;
}
