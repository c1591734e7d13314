"""Bits of the per-slot ``flags`` byte: lever marks and funnel milestones.

=====================  =====  ==========================================================
flag                   bit    set when
=====================  =====  ==========================================================
``FLAG_COUPON``        1      the user redeemed a new-user coupon (``new_user_coupon``)
``FLAG_ONBOARDED``     2      the user went through onboarding (``onboarding``)
``FLAG_PUSH_OPT_OUT``  4      the user opted out of push messages (``push``)
``FLAG_EVER_AWARE``    8      the slot has been AWARE at least once (funnel step 1)
``FLAG_EVER_ACTIVATED`` 16    the user has been ACTIVATED at least once (funnel step 4)
=====================  =====  ==========================================================
"""

from __future__ import annotations

import numpy as np

__all__ = ["FLAG_COUPON", "FLAG_EVER_ACTIVATED", "FLAG_EVER_AWARE", "FLAG_ONBOARDED", "FLAG_PUSH_OPT_OUT"]

FLAG_COUPON = np.uint8(1)
FLAG_ONBOARDED = np.uint8(2)
FLAG_PUSH_OPT_OUT = np.uint8(4)
FLAG_EVER_AWARE = np.uint8(8)
FLAG_EVER_ACTIVATED = np.uint8(16)
