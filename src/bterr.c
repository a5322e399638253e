#include "bterr.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int
bt_err_set(struct bt_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

void
bt_err_prefix(struct bt_err *err, const char *fmt, ...)
{
	char old[BT_ERR_MSGLEN];
	char pre[BT_ERR_MSGLEN];
	va_list ap;

	if (err == NULL)
		return;
	memcpy(old, err->msg, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	/* Truncation is fine: the message is for people and stays one line. */
	{
		size_t pl = strlen(pre);

		if (pl > sizeof(err->msg) - 3)
			pl = sizeof(err->msg) - 3;
		memcpy(err->msg, pre, pl);
		memcpy(err->msg + pl, ": ", 2);
		pl += 2;
		size_t ol = strlen(old);
		if (ol > sizeof(err->msg) - 1 - pl)
			ol = sizeof(err->msg) - 1 - pl;
		memcpy(err->msg + pl, old, ol);
		err->msg[pl + ol] = '\0';
	}
}
