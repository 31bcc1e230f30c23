// Command sdkgen writes the TypeScript, Go and Python SDKs of the azure-elastic-jobs package from its schema,
// with the code generators the Pulumi CLI's own `package gen-sdk` uses (pkg/codegen/{nodejs,go,python}, at the
// version scripts/build-pulumi-cli.sh builds). It is run by scripts/gen-sdk.sh, never by hand:
//
//	sdkgen -schema schema.json -out sdk
//
// writes sdk/nodejs, sdk/go and sdk/python, replacing whatever was there. The output is a pure function of the
// schema and the generators' version, so regenerating and comparing (gen-sdk.sh --check) catches drift.
//
//	sdkgen -schema schema.json -language nodejs|go|python -out dir [-local]
//
// writes one language's SDK into dir exactly as that language's official host answers GeneratePackage (no
// files of ours added): this project's stand-in language hosts (scripts/pulumi_cli) call it when `pulumi
// package add` or `pulumi install` asks them to generate a package.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"

	"github.com/blang/semver"
	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	"github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

// tool is the name the generators print in each file's "do not edit" header.
const tool = "elastic-jobs sdkgen (scripts/gen-sdk.sh)"

// pulumiGoSDK is the github.com/pulumi/pulumi/sdk/v3 version the Go SDK's go.mod requires: the one the CLI
// build and this tool use.
const pulumiGoSDK = "v3.274.1"

func main() {
	schemaPath := flag.String("schema", "", "the package schema (JSON), as `pulumi package get-schema` prints it")
	out := flag.String("out", "", "the folder to write nodejs/, go/ and python/ into (each is replaced)")
	language := flag.String("language", "", "write only this language's SDK into -out, as its language host would")
	local := flag.Bool("local", false, "with -language nodejs: a local SDK (compiled by its postinstall step)")
	flag.Parse()
	if *schemaPath == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	var err error
	if *language != "" {
		err = generateOne(*schemaPath, *language, *out, *local)
	} else {
		err = run(*schemaPath, *out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sdkgen:", err)
		os.Exit(1)
	}
}

// readSpec reads the package schema at schemaPath.
func readSpec(schemaPath string) (schema.PackageSpec, error) {
	var spec schema.PackageSpec
	data, err := os.ReadFile(schemaPath)
	if err != nil {
		return spec, err
	}
	if err := json.Unmarshal(data, &spec); err != nil {
		return spec, fmt.Errorf("%s: %w", schemaPath, err)
	}
	return spec, nil
}

func run(schemaPath, out string) error {
	spec, err := readSpec(schemaPath)
	if err != nil {
		return err
	}
	// Each generator fills pkg.Language with its own info, so each binds a fresh package.
	nodePkg, err := bind(spec)
	if err != nil {
		return err
	}
	// A local SDK, as `pulumi package add` writes one for a package that is not on the npm registry: its
	// package.json's main is bin/index.js and its postinstall step compiles it with tsc, so a program
	// installs it straight from sdk/nodejs (examples/typescript).
	nodeFiles, err := nodejs.GeneratePackage(tool, nodePkg, nil, nil, true /* localSDK */, noDependencies{})
	if err != nil {
		return fmt.Errorf("nodejs: %w", err)
	}
	// What npm leaves out when it installs the folder as a copy: the generator writes only a .gitignore, which
	// npm falls back to with a warning on every install.
	nodeFiles[".npmignore"] = []byte("node_modules/\nbin/\n")
	goPkg, err := bind(spec)
	if err != nil {
		return err
	}
	goFiles, err := gogen.GeneratePackage(tool, goPkg, nil)
	if err != nil {
		return fmt.Errorf("go: %w", err)
	}
	goMod, err := goModule(goPkg)
	if err != nil {
		return err
	}
	goFiles["go.mod"] = goMod
	pyPkg, err := bind(spec)
	if err != nil {
		return err
	}
	pyFiles, err := python.GeneratePackage(tool, pyPkg, nil, noDependencies{})
	if err != nil {
		return fmt.Errorf("python: %w", err)
	}
	for dir, files := range map[string]map[string][]byte{"nodejs": nodeFiles, "go": goFiles, "python": pyFiles} {
		if err := write(filepath.Join(out, dir), files); err != nil {
			return err
		}
	}
	return nil
}

// generateOne writes one language's SDK into out as the official language host's GeneratePackage does: the
// generator's files only, over whatever out holds (the CLI hands the host a fresh folder).
func generateOne(schemaPath, language, out string, local bool) error {
	spec, err := readSpec(schemaPath)
	if err != nil {
		return err
	}
	pkg, err := bind(spec)
	if err != nil {
		return err
	}
	var files map[string][]byte
	switch language {
	case "nodejs":
		files, err = nodejs.GeneratePackage(tool, pkg, nil, nil, local, noDependencies{})
	case "go":
		files, err = gogen.GeneratePackage(tool, pkg, nil)
	case "python":
		files, err = python.GeneratePackage(tool, pkg, nil, noDependencies{})
	default:
		return fmt.Errorf("unknown language %q (nodejs, go or python)", language)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", language, err)
	}
	for name, content := range files {
		target := filepath.Join(out, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(target, content, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// bind validates the schema against Pulumi's metaschema and binds it, as `pulumi package gen-sdk` does.
func bind(spec schema.PackageSpec) (*schema.Package, error) {
	pkg, diags, err := schema.BindSpec(spec, noDependencies{}, schema.ValidationOptions{})
	if err != nil {
		return nil, fmt.Errorf("binding the schema: %w", err)
	}
	if diags.HasErrors() {
		return nil, fmt.Errorf("the schema is invalid: %w", diags)
	}
	return pkg, nil
}

// goModule is the go.mod of the Go SDK. The generator writes one only for parameterized ("packable")
// packages, so this writes the same shape for ours: the module sits one folder above the package, and
// requires the Pulumi Go SDK this tool is built with.
func goModule(pkg *schema.Package) ([]byte, error) {
	info, ok := pkg.Language["go"].(gogen.GoPackageInfo)
	if !ok || info.ImportBasePath == "" {
		return nil, errors.New("the schema's language.go has no importBasePath")
	}
	mod := fmt.Sprintf("// Generated by %s; never edit by hand.\n\nmodule %s\n\ngo 1.25\n\nrequire github.com/pulumi/pulumi/sdk/v3 %s\n",
		tool, path.Dir(info.ImportBasePath), pulumiGoSDK)
	return []byte(mod), nil
}

// write replaces dir with exactly files (paths relative to dir, slash-separated).
func write(dir string, files map[string][]byte) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		target := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(target, files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// noDependencies is the schema loader: the package references no other package (pulumi.json#/Any is built
// in), so any lookup is a mistake in the schema, reported as such rather than by starting a plugin host.
type noDependencies struct{}

func (noDependencies) LoadPackage(name string, version *semver.Version) (*schema.Package, error) {
	return nil, fmt.Errorf("the schema references package %q, and sdkgen loads no other package", name)
}

func (l noDependencies) LoadPackageV2(_ context.Context, d *schema.PackageDescriptor) (*schema.Package, error) {
	return l.LoadPackage(d.Name, d.Version)
}

func (l noDependencies) LoadPackageReference(name string, version *semver.Version) (schema.PackageReference, error) {
	_, err := l.LoadPackage(name, version)
	return nil, err
}

func (l noDependencies) LoadPackageReferenceV2(
	_ context.Context, d *schema.PackageDescriptor,
) (schema.PackageReference, error) {
	return l.LoadPackageReference(d.Name, d.Version)
}
