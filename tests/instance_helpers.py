"""A sensor's stored state on a real Dagster instance, as the daemon stores it for a sensor of
this code location (the forget tests write what `dagster dev` keeps beside runs and ticks)."""

from dagster._core.remote_origin import (
    InProcessCodeLocationOrigin,
    RemoteInstigatorOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.scheduler.instigation import (
    InstigatorState,
    InstigatorStatus,
    InstigatorType,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin


def sensor_state(instance, name: str, data=None) -> InstigatorState:
    location = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name="tracelab_pipeline.definitions"),
        location_name="tracelab_pipeline.definitions",
    )
    origin = RemoteInstigatorOrigin(RemoteRepositoryOrigin(location, "__repository__"), name)
    return instance.add_instigator_state(
        InstigatorState(origin, InstigatorType.SENSOR, InstigatorStatus.DECLARED_IN_CODE, data)
    )
