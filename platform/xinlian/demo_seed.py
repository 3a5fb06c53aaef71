"""The demo county: organizations, one user per role, enrolled carts. Everything is marked demo."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from devices.models import Device
from devices.service import hash_credential
from xinlian.db import utcnow
from xinlian.models import Organization, OrgKind, Role, User
from xinlian.security import hash_password, new_secret

DEMO_PASSWORD = "xinlian-demo"
CENTRAL = ("DEMO-XRM", "县人民医院（演示）", "县城")
TOWNSHIPS = (
    ("DEMO-CG", "城关镇卫生院（演示）", "城关镇"),
    ("DEMO-HK", "河口镇卫生院（演示）", "河口镇"),
    ("DEMO-SP", "石坪乡卫生院（演示）", "石坪乡"),
)
USERS = (
    ("cardio", "王心（心内科）", Role.CARDIOLOGIST, "DEMO-XRM"),
    ("coord", "李转（转诊办）", Role.REFERRAL_COORDINATOR, "DEMO-XRM"),
    ("admin", "赵管（医务科）", Role.ADMIN, "DEMO-XRM"),
    ("doctor-cg", "陈医生（城关）", Role.TOWNSHIP_DOCTOR, "DEMO-CG"),
    ("doctor-hk", "刘医生（河口）", Role.TOWNSHIP_DOCTOR, "DEMO-HK"),
    ("doctor-sp", "周医生（石坪）", Role.TOWNSHIP_DOCTOR, "DEMO-SP"),
)


@dataclass(frozen=True)
class DemoCart:
    serial_number: str
    organization_code: str
    credential: str


def seed(session: Session) -> list[DemoCart]:
    """Create the demo county once; on later runs only issue fresh cart credentials."""
    orgs = {o.code: o for o in session.scalars(select(Organization).where(Organization.is_demo))}
    if CENTRAL[0] not in orgs:
        central = Organization(
            code=CENTRAL[0],
            name=CENTRAL[1],
            location=CENTRAL[2],
            kind=OrgKind.CENTRAL_HOSPITAL,
            is_demo=True,
        )
        session.add(central)
        session.flush()
        orgs[central.code] = central
        for code, name, place in TOWNSHIPS:
            town = Organization(
                code=code,
                name=name,
                location=place,
                kind=OrgKind.TOWNSHIP_CENTRE,
                parent_id=central.id,
                is_demo=True,
            )
            session.add(town)
            orgs[code] = town
        session.flush()
        password_hash = hash_password(DEMO_PASSWORD)
        for username, display, role, org_code in USERS:
            session.add(
                User(
                    username=username,
                    display_name=display,
                    role=role.value,
                    organization_id=orgs[org_code].id,
                    password_hash=password_hash,
                    is_demo=True,
                )
            )
    carts = []
    now = utcnow()
    for code, _name, _place in TOWNSHIPS:
        serial = f"{code}-CART1"
        device = session.scalar(select(Device).where(Device.serial_number == serial))
        if device is None:
            device = Device(
                serial_number=serial,
                vendor="心联模拟",
                model="SIM-12",
                organization_id=orgs[code].id,
                is_demo=True,
            )
            session.add(device)
        # Demo carts live in this process, so a fresh credential per start is simplest.
        credential = new_secret()
        device.credential_hash = hash_credential(credential)
        device.credential_issued_at = now
        device.revoked_at = None
        carts.append(DemoCart(serial_number=serial, organization_code=code, credential=credential))
    session.flush()
    return carts
