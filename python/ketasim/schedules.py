"""Standard treatment schedules for ``ks.course()``.

    ks.schedules.named("iv-2x-weekly", weeks=4)       # any name of ks.schedules.NAMES (the CLI's)
    ks.schedules.iv(per_week=3, weeks=2)              # 0.5 mg/kg over 40 min, Mon/Wed/Fri
    ks.schedules.iv_days([0, 2, 4, 7, 9, 11])
    ks.schedules.esketamine_induction(weeks=8)        # Spravato: 56 mg, then 84 mg
    ks.schedules.from_regimen("models/regimens/esketamine_induction.toml", "esketamine_nasal")

Sources: /work/shared/references/ketamine-pkpd.md section 5 (IV 2x or 3x weekly) and the
Spravato label (induction twice weekly for 4 weeks, then weekly).
"""

from __future__ import annotations

from ._pd import SCHEDULE_NAMES as NAMES
from ._pd import Schedule, esketamine_induction, from_regimen, iv, iv_days, named

__all__ = ["NAMES", "Schedule", "esketamine_induction", "from_regimen", "iv", "iv_days", "named"]
