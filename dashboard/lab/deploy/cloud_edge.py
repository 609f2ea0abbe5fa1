"""Cloud vs edge for one request: the network's round trip plus the server's compute, against the
device computing the answer itself. Arithmetic on measurements (lab.deploy.edge) and a round trip the
student picks; nothing here is measured.

    c = compare(cloud_fit, device_fit, rtt_ms=50, rent_per_hour=0.10, settings=energy_settings)
    c.cloud_ms, c.device_ms, c.device_slowdown_to_lose

Both computes are measured on this machine (it stands in for the server and for the device), so
the comparison adds one figure that needs no assumption: how many times slower than this machine
the real device could be before the cloud answers first (`device_slowdown_to_lose`). Typical
round trips (NETWORKS) are quoted from their sources, or worked out from physics where a floor is
all that can be said (light in glass fibre, a geostationary satellite's height).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from dashboard.lab.deploy.edge import Fit
from dashboard.lab.serial import Record

LIGHT_KM_PER_MS = 299_792.458 / 1000        # in vacuum
FIBRE_KM_PER_MS = LIGHT_KM_PER_MS / 1.468   # in silica fibre (group index ~1.468 at 1550 nm)


@dataclass(frozen=True)
class Network(Record):
    key: str
    title: str
    rtt_ms: float
    how: str        # "measured" (a published measurement), "physics floor" (no route can be faster) or MEASURED (here)
    source: str
    url: str = ""


NETWORKS: tuple[Network, ...] = (
    Network("fibre", "Fibre broadband to a nearby server", 12.0, "measured",
            "Round trips of 11.6 to 14.7 ms across Verizon's Fios tiers in the FCC's Measuring Broadband America "
            "2016 fixed broadband study, as Verizon reports it",
            "https://www.verizon.com/about/our-company/network-performance"),
    Network("dsl", "DSL broadband", 37.0, "measured",
            "Round trips of 37.1 to 39.7 ms across Verizon's DSL tiers in the same FCC 2016 study",
            "https://www.verizon.com/about/our-company/network-performance"),
    Network("4g", "4G mobile (LTE)", 50.0, "measured",
            "Interactive edge applications need round trips under 50 ms; commercial 4G LTE networks fail to "
            "meet that reliably (Smith et al., 'Segmenting Latency in a Private 4G LTE Network', Carnegie Mellon "
            "University CMU-CS-22-115, 2022): so 50 ms is a good day",
            "http://reports-archive.adm.cs.cmu.edu/anon/2022/abstracts/22-115.html"),
    Network("transatlantic", "A server on another continent (London to New York)",
            round(2 * 5_570 / FIBRE_KM_PER_MS, 1), "physics floor",
            "Light in glass fibre (about 204,000 km/s) over the 5,570 km great circle and back; real cables and "
            "routes are longer, so real round trips are longer"),
    Network("geo-satellite", "Geostationary satellite internet", round(4 * 35_786 / LIGHT_KM_PER_MS, 1),
            "physics floor",
            "Up to the satellite 35,786 km above the equator and down, then back the same way: four times its "
            "height at the speed of light, before any ground network or processing"),
)


MEASURED = "measured from your browser"


def measured_network(rtt_ms: float, requests: int, where: str = "your browser") -> Network:
    """The round trip a student's browser measured to this app (lab.deploy.browser_result: the median of its timed
    requests), as a network to set beside the typical ones: this room's network and this server, not a cloud's."""
    if not rtt_ms > 0:
        raise ValueError("a measured round trip is above 0 ms")
    key = "measured" if where == "your browser" else f"measured-{where.split()[-1]}"
    return Network(key, f"Measured from {where} to this server", round(rtt_ms, 3), MEASURED,
                   f"The median of {requests} small requests from {where} to this app's health check, timed there "
                   "when you measured on your device: the network between you and this server (a room's Wi-Fi, or "
                   "the internet to a hosted copy), plus the server's time to answer")


@dataclass(frozen=True)
class CloudVsEdge:
    """One request answered by a cloud server or on the device; ms and money per request."""

    variant_cloud: str
    variant_device: str
    rtt_ms: float
    server_ms: float                 # the server's typical compute per request, measured (a whole batch: each waits for it)
    device_ms: float                 # the device's typical compute per request, measured (median of single calls)
    cloud_energy_j: float | None     # per request, estimated or measured as lab.energy says
    device_energy_j: float | None
    energy_measured: bool
    cloud_electricity: float | None  # per request, in `currency`
    device_electricity: float | None
    rent_per_request: float | None   # the server's rent spread over the requests it can serve
    currency: str
    server_requests_per_hour: float | None

    @property
    def cloud_ms(self) -> float:
        return self.rtt_ms + self.server_ms

    @property
    def faster(self) -> str:
        return "device" if self.device_ms <= self.cloud_ms else "cloud"

    @property
    def device_slowdown_to_lose(self) -> float:
        """How many times slower than this machine the device could be and still answer first."""
        return self.cloud_ms / self.device_ms

    @property
    def rtt_to_lose_ms(self) -> float:
        """The round trip below which the cloud would answer first (0 when it never would)."""
        return max(0.0, self.device_ms - self.server_ms)

    def to_dict(self) -> dict:
        return {**asdict(self), "cloud_ms": self.cloud_ms, "faster": self.faster,
                "device_slowdown_to_lose": self.device_slowdown_to_lose, "rtt_to_lose_ms": self.rtt_to_lose_ms}


def compare(cloud: Fit, device: Fit, rtt_ms: float, *, rent_per_hour: float | None = None,
            settings=None) -> CloudVsEdge:
    """`cloud` and `device`: one version's Fit under a cloud profile and under an edge profile (both
    timed); their typical times are compared (medians: a p95 belongs to a budget, not to a comparison). `settings` (lab.energy.EnergySettings) prices the energy; rent_per_hour is the
    student's assumption, in the same currency (None leaves rent out)."""
    if cloud.typical_ms is None or device.typical_ms is None:
        raise ValueError("both need a measured latency: measure the cloud profile and a device profile first")
    if rtt_ms < 0:
        raise ValueError("a round trip cannot be negative")
    ce = cloud.energy.with_settings(settings) if cloud.energy is not None and settings else cloud.energy
    de = device.energy.with_settings(settings) if device.energy is not None and settings else device.energy
    per_hour = 3.6e6 / cloud.ms_per_image if cloud.ms_per_image else None
    rent = rent_per_hour / per_hour if rent_per_hour is not None and per_hour else None
    return CloudVsEdge(
        variant_cloud=cloud.name, variant_device=device.name, rtt_ms=rtt_ms, server_ms=cloud.typical_ms,
        device_ms=device.typical_ms, cloud_energy_j=ce.joules_per_image if ce else None,
        device_energy_j=de.joules_per_image if de else None,
        energy_measured=bool(ce and ce.measured and de and de.measured),
        cloud_electricity=ce.cost_per_image if ce else None, device_electricity=de.cost_per_image if de else None,
        rent_per_request=rent, currency=(ce or de).currency if (ce or de) else "",
        server_requests_per_hour=per_hour)


__all__ = ["MEASURED", "NETWORKS", "CloudVsEdge", "Network", "compare", "measured_network"]
