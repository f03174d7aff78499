"""Autoscaling (`autoscaling:`): replicas added or removed as the load changes.

Owns the schema and the controller rule; the fleet model runs it. Every
`interval` the controller looks at the mean number of requests outstanding
(queued + in service) per active replica: above `scale_up_at` it asks for one
more replica (unless `max_replicas` are active or coming), which starts taking
requests `provisioning_delay` later; below `scale_down_at` it retires the
most recently added active replica (never below `min_replicas`), which takes
no new requests but finishes those it holds. `replicas.count` is the starting
number. A replica costs from the moment it is asked for until it is retired;
the summary's `autoscaling` block reports the mean number of replicas paid
for, replica-hours and, with a price per server, the cost.

```yaml
replicas: {count: 2, router: least_outstanding}
autoscaling:
  min_replicas: 1
  max_replicas: 8
  scale_up_at: 8            # outstanding requests per active replica
  scale_down_at: 1
  interval: 1s
  provisioning_delay: 20s
```
"""

from __future__ import annotations

from pydantic import Field, model_validator

from .config import FieldError, PositiveSeconds, Seconds, Section


class AutoscalingSection(Section):
    """Threshold autoscaler on outstanding requests per active replica."""

    min_replicas: int = Field(1, ge=1, le=10_000)
    max_replicas: int = Field(ge=1, le=10_000)
    scale_up_at: float = Field(gt=0, description="outstanding requests per active replica "
                               "above which one replica is added")
    scale_down_at: float = Field(0.0, ge=0, description="below which one is retired")
    interval: PositiveSeconds = Field(1.0, description="how often the autoscaler looks")
    provisioning_delay: Seconds = Field(0.0, description="time from asking for a replica "
                                        "to its first request")

    @model_validator(mode="after")
    def _ordered(self):
        if self.min_replicas > self.max_replicas:
            raise FieldError("autoscaling.min_replicas", f"above max_replicas "
                             f"({self.max_replicas})", self.min_replicas)
        if self.scale_down_at >= self.scale_up_at:
            raise FieldError("autoscaling.scale_down_at", f"must be below scale_up_at "
                             f"({self.scale_up_at:g})", self.scale_down_at)
        return self


def decide(outstanding_per_replica: float, active: int, coming: int,
           config: AutoscalingSection) -> int:
    """+1 (add a replica), -1 (retire one) or 0, by the thresholds and the bounds."""
    if outstanding_per_replica > config.scale_up_at and active + coming < config.max_replicas:
        return 1
    if outstanding_per_replica < config.scale_down_at and active > config.min_replicas \
            and coming == 0:
        return -1
    return 0
