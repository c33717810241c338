"""Demo steps of the foundation: users per role, a few audited actions, the audit chain verified."""

from __future__ import annotations

from secretome.demo.context import DEMO_PASSWORD, DEMO_USERS, DemoContext


def create_users(ctx: DemoContext) -> None:
    from secretome.services.audit import SYSTEM_ACTOR
    from secretome.services.users import add_user

    admin_name = next(name for name, (role, _) in DEMO_USERS.items() if role == "admin")
    role, full = DEMO_USERS[admin_name]
    ctx.users[admin_name] = add_user(
        SYSTEM_ACTOR,
        "demo: first administrator",
        username=admin_name,
        full_name=full,
        role=role,
        password=DEMO_PASSWORD,
    )
    for name, (role, full) in DEMO_USERS.items():
        if name == admin_name:
            continue
        ctx.users[name] = add_user(
            ctx.users[admin_name],
            f"demo: {role} account",
            username=name,
            full_name=full,
            role=role,
            password=DEMO_PASSWORD,
        )
    ctx.summary["users"] = {name: role for name, (role, _) in DEMO_USERS.items()}
    ctx.say(
        "Demo users (password "
        + DEMO_PASSWORD
        + "): "
        + ", ".join(f"{n} ({r})" for n, (r, _) in DEMO_USERS.items())
    )


def audited_actions(ctx: DemoContext) -> None:
    from secretome.services.users import create_api_token

    create_api_token(ctx.users["ana"], "demo: script access for the analyst", "demo-scripts")


def verify_chain(ctx: DemoContext) -> None:
    from secretome.services.audit import verify

    report = verify()
    ctx.summary["audit"] = report.to_dict()
    state = "intact" if report.intact else "BROKEN"
    ctx.say(f"Audit chain {state}: {report.events_checked} events verified")
    if not report.intact:
        raise SystemExit(1)
