{
  description = "mistake-cost: measures what a mistake costs with apt, pip and Nix, in matched Docker containers";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.05";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAll = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAll (pkgs: {
        default = pkgs.rustPlatform.buildRustPackage {
          pname = "mistake-cost";
          version = "0.1.0";
          src = ./.;
          cargoLock.lockFile = ./Cargo.lock;
          # The integration tests need a Docker engine, which a Nix build
          # sandbox does not have.
          doCheck = false;
          meta.mainProgram = "mistake-cost";
        };
      });

      devShells = forAll (pkgs: {
        default = pkgs.mkShell {
          packages = [
            pkgs.cargo
            pkgs.rustc
            pkgs.clippy
            pkgs.rustfmt
            pkgs.docker-client
            pkgs.mmdebstrap
          ];
        };
      });
    };
}
