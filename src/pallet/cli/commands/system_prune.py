"""`pallet system prune`: stopped containers, unused networks, dangling images (-a: unused), --volumes."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-a", "--all", action="store_true", help="Remove all unused images not just dangling ones"
    )
    parser.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    parser.add_argument("--volumes", action="store_true", help="Prune anonymous volumes")
    parser.add_argument("--filter", action="append", default=[], help="Provide filter values")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.cli.commands._images import confirm, containers_using, images, snapshotter
    from pallet.cli.commands.container_prune import prune as prune_containers
    from pallet.cli.units import human_size
    from pallet.image.remove import prune as prune_images

    if not args.force:
        what = ["all stopped containers", "all networks not used by at least one container"]
        if args.volumes:
            what.append("all anonymous volumes not used by at least one container")
        what.append("all images without at least one container associated to them" if args.all
                    else "all dangling images")
        if not confirm("WARNING! This will remove:\n" + "".join(f"  - {w}\n" for w in what)
                       + "\nAre you sure you want to continue?"):
            return 0
    removed, freed = prune_containers(ctx, args.filter)
    if removed:
        print("Deleted Containers:\n" + "\n".join(removed) + "\n")
    networks = _prune_networks(ctx)
    if networks:
        print("Deleted Networks:\n" + "\n".join(networks) + "\n")
    if args.volumes:
        from pallet.engine.volumes import prune as prune_volumes

        names, vol_bytes = prune_volumes(ctx.engine())
        freed += vol_bytes
        if names:
            print("Deleted Volumes:\n" + "\n".join(names) + "\n")
    lines, image_bytes = prune_images(images(ctx), snapshotter(ctx), all_unused=args.all,
                                      in_use=containers_using(ctx), filters={})
    freed += image_bytes
    if lines:
        print("Deleted Images:\n" + "\n".join(lines) + "\n")
    print(f"Total reclaimed space: {human_size(freed)}")
    return 0


def _prune_networks(ctx: Context) -> list[str]:
    import os

    if not os.path.exists(os.path.join(ctx.root, "networks", "state.json")):
        return []  # no network was ever made in this store: nothing to open
    from pallet.cli.commands._network import store

    return store(ctx).prune()
