/*
** spec/c/test_usb.c -- USB discovery's C layer (devices/usb/usb.c): the injected
** device list goes through the same rules as libusb's (vendor filter, strings
** only from an opened device, port paths clamped), the real bus lists without
** failing whatever this machine has, and every allocation failure is clean.
*/
#include "../../devices/usb/usb.h"
#include "check.h"
#include <string.h>

static lp_ctx *ctx;

static lp_usb_info dev(uint16_t vid, uint16_t pid, lp_usb_open open, const char *product) {
  lp_usb_info d;
  memset(&d, 0, sizeof d);
  d.vid = vid; d.pid = pid; d.bus = 1; d.address = 5;
  d.ports[0] = 2; d.ports[1] = 3; d.nports = 2;
  d.open = open;
  strcpy(d.product, product);
  strcpy(d.manufacturer, "SynSense");
  return d;
}

static void test_injected(void) {
  lp_usb *u;
  lp_usb_info fake[3], *list = NULL;
  uint16_t vids[2] = {0x04b4, 0x337d};
  char note[128];
  int n = -1;
  fake[0] = dev(0x04b4, 0x00f3, LP_USB_OPEN_OK, "FX3");
  fake[1] = dev(0x337d, 0x0001, LP_USB_OPEN_ACCESS, "hidden");
  fake[2] = dev(0x046d, 0xc52b, LP_USB_OPEN_OK, "a mouse");
  CHECK_OK(lp_usb_new(ctx, &u));
  CHECK_OK(lp_usb_inject(u, fake, 3));
  CHECK_OK(lp_usb_list(u, vids, 2, &list, &n, note, sizeof note));
  CHECK(n == 2);
  CHECK(note[0] == 0);
  CHECK(list[0].vid == 0x04b4 && list[0].pid == 0x00f3 && strcmp(list[0].product, "FX3") == 0);
  CHECK(list[1].open == LP_USB_OPEN_ACCESS && list[1].product[0] == 0 && list[1].manufacturer[0] == 0);
  CHECK(list[1].nports == 2 && list[1].ports[1] == 3);
  lp_usb_list_free(u, list);
  /* every vendor */
  CHECK_OK(lp_usb_list(u, NULL, 0, &list, &n, note, sizeof note));
  CHECK(n == 3);
  lp_usb_list_free(u, list);
  /* an empty bus */
  CHECK_OK(lp_usb_inject(u, NULL, 0));
  CHECK_OK(lp_usb_list(u, vids, 2, &list, &n, note, sizeof note));
  CHECK(n == 0);
  lp_usb_list_free(u, list);
  lp_usb_free(u);
}

static void test_real_bus(void) {
  lp_usb *u;
  lp_usb_info *list = NULL;
  char note[128];
  int n = -1, i;
  CHECK_OK(lp_usb_new(ctx, &u));
  CHECK_OK(lp_usb_list(u, NULL, 0, &list, &n, note, sizeof note));
  CHECK(n >= 0);
  for (i = 0; i < n; i++) CHECK(list[i].nports >= 0 && list[i].nports <= LP_USB_MAXPORTS);
  lp_usb_list_free(u, list);
  lp_usb_free(u);
}

static void test_alloc_failures(void) {
  long k;
  for (k = 1; k < 10; k++) {
    lp_usb *u = NULL;
    lp_usb_info fake[1], *list = NULL;
    char note[64];
    int n;
    lp_status st;
    fake[0] = dev(0x04b4, 0x00f3, LP_USB_OPEN_OK, "FX3");
    lp_ctx_fail_alloc_after(ctx, k);
    st = lp_usb_new(ctx, &u);
    if (st == LP_OK) st = lp_usb_inject(u, fake, 1);
    if (st == LP_OK) st = lp_usb_list(u, NULL, 0, &list, &n, note, sizeof note);
    CHECK(st == LP_OK || st == LP_ENOMEM);
    lp_ctx_fail_alloc_after(ctx, 0);
    lp_usb_list_free(u ? u : NULL, list);
    lp_usb_free(u);
  }
  CHECK(lp_ctx_bytes_live(ctx) == 0);
}

int main(void) {
  int rc;
  lp_ctx_new(&ctx);
  RUN(test_injected);
  RUN(test_real_bus);
  RUN(test_alloc_failures);
  rc = TEST_REPORT("test_usb");
  lp_ctx_free(ctx);
  return rc;
}
