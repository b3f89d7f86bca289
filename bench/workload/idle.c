/* An empty guest: prints one line and exits. bench/run_workload.sh times it to
 * learn each runner's fixed cost (process start, firmware, loading, exit). */
#include "platform.h"

void bench_main(void) {
  bench_print("bt86-workload idle\n");
  bench_finish();
}
