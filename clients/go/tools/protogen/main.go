// Command protogen generates the Go SDK's gRPC stubs from the repository's
// proto/ directory, or checks that the committed stubs match (-check).
//
// It needs neither protoc nor buf on the machine: the .proto files are parsed
// by github.com/bufbuild/protocompile, and the CodeGeneratorRequest goes to
// protoc-gen-go and protoc-gen-go-grpc at the versions pinned in this
// module's go.mod (`tool` directives, run with `go tool`). So the output is
// the same on every machine, and the drift check in `npm test` compares
// like with like.
//
//	go run ./protogen          # rewrite ../internal/gen/coresdkv1
//	go run ./protogen -check   # regenerate into a temp dir and diff
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"
)

const (
	// The Go module the stubs belong to, and where in it they go.
	module  = "github.com/coresdk/coresdk/clients/go"
	genPkg  = module + "/internal/gen/coresdkv1"
	genDir  = "internal/gen/coresdkv1"
	srcFile = "coresdk/v1/coresdk.proto"
)

func main() {
	check := flag.Bool("check", false, "regenerate into a temporary directory and fail if the committed stubs differ")
	flag.Parse()
	if err := run(*check); err != nil {
		fmt.Fprintln(os.Stderr, "protogen:", err)
		os.Exit(1)
	}
}

func run(check bool) error {
	// This program runs from clients/go/tools; the module root is one up, the repository three.
	goRoot, err := filepath.Abs("..")
	if err != nil {
		return err
	}
	protoDir := filepath.Join(goRoot, "..", "..", "proto")
	compiler := protocompile.Compiler{
		Resolver:       protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: []string{protoDir}}),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	files, err := compiler.Compile(context.Background(), srcFile)
	if err != nil {
		return fmt.Errorf("parsing %s: %w", srcFile, err)
	}
	fdp := protodesc.ToFileDescriptorProto(files[0])
	// The proto's go_package names a path outside this module; map it into internal/gen.
	param := fmt.Sprintf("module=%s,M%s=%s;coresdkv1", module, srcFile, genPkg)
	req := &pluginpb.CodeGeneratorRequest{
		FileToGenerate: []string{srcFile},
		Parameter:      proto.String(param),
		ProtoFile:      []*descriptorpb.FileDescriptorProto{fdp},
	}
	out := map[string][]byte{}
	for _, plugin := range []string{"protoc-gen-go", "protoc-gen-go-grpc"} {
		if err := generate(plugin, req, out); err != nil {
			return err
		}
	}
	target := goRoot
	if check {
		tmp, err := os.MkdirTemp("", "coresdk-go-stubs-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		target = tmp
	}
	names := make([]string, 0, len(out))
	for name := range out {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := filepath.Join(target, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, out[name], 0o644); err != nil {
			return err
		}
	}
	if !check {
		fmt.Printf("wrote %d files under %s\n", len(names), filepath.Join(goRoot, genDir))
		return nil
	}
	// Every generated file must equal the committed one, and nothing else may live in the directory.
	committed, err := os.ReadDir(filepath.Join(goRoot, genDir))
	if err != nil {
		return err
	}
	drift := 0
	for _, e := range committed {
		rel := genDir + "/" + e.Name()
		if _, ok := out[rel]; !ok {
			fmt.Fprintf(os.Stderr, "not generated (remove it, or regenerate): %s\n", rel)
			drift++
		}
	}
	for _, name := range names {
		have, err := os.ReadFile(filepath.Join(goRoot, filepath.FromSlash(name)))
		if err != nil || !bytes.Equal(have, out[name]) {
			fmt.Fprintf(os.Stderr, "drifted from proto/: %s\n", name)
			drift++
		}
	}
	if drift > 0 {
		return fmt.Errorf("%d stub file(s) differ from a fresh generation; run `cd clients/go/tools && go run ./protogen`", drift)
	}
	fmt.Printf("stubs match proto/ (%d files)\n", len(names))
	return nil
}

// generate runs one plugin (pinned in go.mod) on req and collects its files.
func generate(plugin string, req *pluginpb.CodeGeneratorRequest, out map[string][]byte) error {
	in, err := proto.Marshal(req)
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "tool", plugin)
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stderr = os.Stderr
	raw, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("%s: %w", plugin, err)
	}
	var res pluginpb.CodeGeneratorResponse
	if err := proto.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("%s: %w", plugin, err)
	}
	if res.Error != nil {
		return fmt.Errorf("%s: %s", plugin, res.GetError())
	}
	for _, f := range res.File {
		out[f.GetName()] = []byte(f.GetContent())
	}
	return nil
}
